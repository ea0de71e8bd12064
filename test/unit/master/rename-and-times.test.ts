import { expect } from 'chai';

import { entries } from '../../../master/log-entry.js';
import { attrOf, Harness, ok, ROOT_INODE, T0 } from './harness.js';

describe('master state machine: renameat2 by inode', () => {
  it('a file over a file replaces it: the replaced inode loses its link (to the trash), both parents and the moved inode get new times', () => {
    const h = new Harness().init();
    const from = h.dir('/from');
    const to = h.dir('/to');
    const moved = h.file('/from/f');
    const replaced = h.file('/to/g');
    const t = h.time;
    ok(h.renameAt(from, 'f', to, 'g'));
    expect(h.at(to, 'g')).to.include({ inode: moved, ctimeUs: t });
    expect(h.sm.statInode(replaced)).to.include({ nlink: 0, ctimeUs: t });
    expect(h.sm.counts().trash).to.equal(1);
    for (const dir of [from, to]) expect(h.sm.statInode(dir)).to.include({ mtimeUs: t, ctimeUs: t });
  });

  it('a directory over an empty directory replaces it; across parents both parents\' nlink follow', () => {
    const h = new Harness().init();
    const a = h.dir('/a');
    const b = h.dir('/b');
    const sub = h.dir('/a/sub');
    const empty = h.dir('/b/empty');
    ok(h.renameAt(a, 'sub', b, 'empty'));
    expect(h.sm.statInode(a).nlink).to.equal(2);
    expect(h.sm.statInode(b).nlink).to.equal(3);
    expect(h.at(b, 'empty').inode).to.equal(sub);
    expect(h.sm.statInode(empty)).to.include({ kind: 'directory' });
    // The moved directory hangs under its new parent: the old one can go and it stays usable.
    ok(h.remove(ROOT_INODE, 'a', true));
    expect(attrOf(h.makeNode(sub, 'x')).kind).to.equal('file');
  });

  it('Linux\'s errors: NOT_EMPTY, IS_A_DIRECTORY, NOT_A_DIRECTORY, INVALID_ARGUMENT into itself, NOT_EMPTY onto an ancestor', () => {
    const h = new Harness().init();
    const a = h.dir('/a');
    const inner = h.dir('/a/inner');
    h.file('/a/inner/x');
    h.dir('/d');
    h.file('/f');
    h.fails('NOT_EMPTY', () => h.renameAt(ROOT_INODE, 'd', a, 'inner'));
    h.fails('IS_A_DIRECTORY', () => h.renameAt(ROOT_INODE, 'f', ROOT_INODE, 'd'));
    h.fails('NOT_A_DIRECTORY', () => h.renameAt(ROOT_INODE, 'd', ROOT_INODE, 'f'));
    h.fails('INVALID_ARGUMENT', () => h.renameAt(ROOT_INODE, 'a', inner, 'a'));
    h.fails('INVALID_ARGUMENT', () => h.renameAt(ROOT_INODE, 'a', a, 'self'));
    h.fails('NOT_EMPTY', () => h.renameAt(inner, 'x', ROOT_INODE, 'a'));
    h.fails('NOT_FOUND', () => h.renameAt(ROOT_INODE, 'missing', ROOT_INODE, 'x'));
    h.fails('NOT_A_DIRECTORY', () => h.renameAt(h.sm.stat('/f').inode, 'x', ROOT_INODE, 'y'));
  });

  it('RENAME_NOREPLACE: ALREADY_EXISTS over an existing name, an ordinary move otherwise', () => {
    const h = new Harness().init();
    h.file('/f');
    h.file('/g');
    h.fails('ALREADY_EXISTS', () => h.renameAt(ROOT_INODE, 'f', ROOT_INODE, 'g', { noReplace: true }));
    ok(h.renameAt(ROOT_INODE, 'f', ROOT_INODE, 'h', { noReplace: true }));
    h.fails('INVALID_ARGUMENT', () => h.renameAt(ROOT_INODE, 'h', ROOT_INODE, 'i', { noReplace: true, exchange: true }));
  });

  it('RENAME_EXCHANGE swaps two names atomically, of any kinds, fixing link counts and times across parents', () => {
    const h = new Harness().init();
    const a = h.dir('/a');
    const b = h.dir('/b');
    const file = h.file('/a/x');
    const dir = h.dir('/b/y');
    h.file('/b/y/content');
    const t = h.time;
    ok(h.renameAt(a, 'x', b, 'y', { exchange: true }));
    expect(h.at(a, 'x')).to.include({ inode: dir, ctimeUs: t });
    expect(h.at(b, 'y')).to.include({ inode: file, ctimeUs: t });
    expect(h.sm.statInode(a)).to.include({ nlink: 3, mtimeUs: t, ctimeUs: t });
    expect(h.sm.statInode(b)).to.include({ nlink: 2, mtimeUs: t, ctimeUs: t });
    expect(h.sm.stat('/a/x/content').kind).to.equal('file');
    h.fails('NOT_FOUND', () => h.renameAt(a, 'x', b, 'missing', { exchange: true }));
    h.fails('INVALID_ARGUMENT', () => h.renameAt(ROOT_INODE, 'a', a, 'x', { exchange: true }));
    h.fails('INVALID_ARGUMENT', () => h.renameAt(a, 'x', ROOT_INODE, 'a', { exchange: true }));
  });

  it('the path rename follows the same rules: onto an ancestor is NOT_EMPTY, onto the same entry a no-op', () => {
    const h = new Harness().init();
    h.dir('/a');
    h.file('/a/f');
    h.fails('NOT_EMPTY', () => h.rename('/a/f', '/a'));
    h.unchanged(() => h.rename('/a/f', '/a/f'));
  });
});

describe('master state machine: timestamps as Linux keeps them', () => {
  it('a new inode gets atime = mtime = ctime = the entry time; unlinking one of its links changes its ctime only', () => {
    const h = new Harness().init();
    const t0 = h.time;
    const f = attrOf(h.makeNode(ROOT_INODE, 'f'));
    expect(f).to.include({ atimeUs: t0, mtimeUs: t0, ctimeUs: t0 });
    ok(h.link(f.inode, ROOT_INODE, 'g'));
    const t = h.time;
    ok(h.remove(ROOT_INODE, 'f'));
    expect(h.sm.statInode(f.inode)).to.include({ atimeUs: t0, mtimeUs: t0, ctimeUs: t });
  });

  it('chmod and chown change ctime only; explicit times set atime and mtime and change ctime; "now" is the entry\'s time', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const t0 = T0 + 1;
    let t = h.time;
    expect(attrOf(h.setAttrInode(f, { mode: 0o600, uid: 3 }))).to.include({ atimeUs: t0, mtimeUs: t0, ctimeUs: t });
    t = h.time;
    expect(attrOf(h.setAttrInode(f, { atimeUs: 11, mtimeUs: 22 }))).to.include({ atimeUs: 11, mtimeUs: 22, ctimeUs: t });
    t = h.time;
    expect(attrOf(h.setAttrInode(f, { atimeNow: true }))).to.include({ atimeUs: t, mtimeUs: 22, ctimeUs: t });
    t = h.time;
    expect(attrOf(h.setAttrInode(f, { mtimeNow: true, atimeUs: 5 }))).to.include({ atimeUs: 5, mtimeUs: t, ctimeUs: t });
    h.fails('INVALID_ARGUMENT', () => h.setAttrInode(f, { atimeUs: 5, atimeNow: true }));
  });

  it('truncate (even to the same size) and a data write change mtime and ctime, not atime', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const t0 = T0 + 1;
    ok(h.commit(f, 10));
    let t = h.time;
    expect(attrOf(h.truncate(f, 10))).to.include({ size: 10, atimeUs: t0, mtimeUs: t, ctimeUs: t });
    t = h.time;
    expect(attrOf(h.commit(f, 5))).to.include({ size: 10, atimeUs: t0, mtimeUs: t, ctimeUs: t });
  });

  it('an access-time update (the mount\'s relatime) sets atime only, for anyone', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const before = h.sm.statInode(f);
    const t = h.time;
    const caller = { uid: 4242, gid: 4242, groups: [] };
    expect(attrOf(h.apply((time) => entries.setAttr(time, undefined, { inode: f, atimeAccess: true, caller })))).to.deep.equal({ ...before, atimeUs: t });
    h.fails('INVALID_ARGUMENT', () => h.apply((time) => entries.setAttr(time, undefined, { inode: f, atimeAccess: true, mode: 0o600 })));
  });

  it('a data write dated by its writer sets mtime to that date; ctime never goes back', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const commit = (writtenAtUs: number) => attrOf(h.apply((t) => entries.commitWrite(t, undefined, { inode: f, endOffset: 10, writtenAtUs })));
    const t = h.time;
    expect(commit(T0 + 500)).to.include({ mtimeUs: T0 + 500, ctimeUs: T0 + 500 });
    expect(commit(T0 - 5)).to.include({ mtimeUs: T0 - 5, ctimeUs: T0 + 500 });
    expect(commit(0)).to.include({ mtimeUs: t + 2, ctimeUs: T0 + 500 });
  });

  it('reads change nothing: lookup, readDir, stat and readlink leave atime alone', () => {
    const h = new Harness().init();
    const dir = h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    const link = h.node(dir, 'l', 'FILE_KIND_SYMLINK');
    const before = h.sm.snapshot();
    h.sm.lookup(dir, 'l');
    h.sm.readDir(dir, '', 0);
    h.sm.readlink(link);
    h.sm.stat('/d/l');
    expect(h.sm.snapshot().equals(before)).to.equal(true);
  });

  it('a path setattr and a setattr by inode are the same operation', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    ok(h.apply((t) => entries.setAttr(t, undefined, { path: '/f', mode: 0o600, atimeNow: true })));
    expect(h.sm.statInode(f)).to.include({ mode: 0o600, atimeUs: h.time - 1 });
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/f', inode: f, mode: 0o600 })));
    h.fails('NOT_FOUND', () => h.setAttrInode(999, { mode: 0o600 }));
  });
});
