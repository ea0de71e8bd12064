import { expect } from 'chai';

import type { InodeId } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { encodeEntry, entries } from '../../../master/log-entry.js';
import { attrOf, chunkOf, expectError, Harness, ok, ROOT_INODE, valueOf } from './harness.js';

describe('master state machine: inode kinds', () => {
  it('makes every kind by inode: directories with nlink 2, others with nlink 1, the parent gains new times', () => {
    const h = new Harness().init();
    const kinds = [
      ['FILE_KIND_FILE', 'file'],
      ['FILE_KIND_DIRECTORY', 'directory'],
      ['FILE_KIND_FIFO', 'fifo'],
      ['FILE_KIND_SOCKET', 'socket'],
    ] as const;
    for (const [wire, kind] of kinds) {
      const t = h.time;
      const attr = attrOf(h.makeNode(ROOT_INODE, kind, { kind: wire, mode: 0o640 }));
      expect(attr).to.include({ kind, mode: 0o640, nlink: kind === 'directory' ? 2 : 1, size: 0, rdev: 0, atimeUs: t, mtimeUs: t, ctimeUs: t });
      expect(h.at(ROOT_INODE, kind)).to.deep.equal(attr);
      expect(h.sm.statInode(ROOT_INODE)).to.include({ mtimeUs: t, ctimeUs: t });
    }
    expect(h.sm.statInode(ROOT_INODE).nlink).to.equal(3);
    expect(h.at(ROOT_INODE, 'file')).to.include({ replication: 3, chunkCount: 0 });
    expect(h.at(ROOT_INODE, 'fifo')).to.include({ replication: 0, replicateAll: false });
  });

  it('devices carry rdev; mknod ignores it for anything else', () => {
    const h = new Harness().init();
    expect(attrOf(h.makeNode(ROOT_INODE, 'c', { kind: 'FILE_KIND_CHAR_DEVICE', rdev: (1 << 8) | 3 }))).to.include({ kind: 'char-device', rdev: 0x103 });
    expect(attrOf(h.makeNode(ROOT_INODE, 'b', { kind: 'FILE_KIND_BLOCK_DEVICE', rdev: 0xffffffff }))).to.include({ kind: 'block-device', rdev: 0xffffffff });
    expect(attrOf(h.makeNode(ROOT_INODE, 'p', { kind: 'FILE_KIND_FIFO', rdev: 77 })).rdev).to.equal(0);
  });

  it('a symlink keeps its target (size = its UTF-8 bytes, mode 0777) and readlink returns it; it is never followed', () => {
    const h = new Harness().init();
    const target = '../über/ziel';
    const link = attrOf(h.makeNode(ROOT_INODE, 'l', { kind: 'FILE_KIND_SYMLINK', mode: 0o600, target }));
    expect(link).to.include({ kind: 'symlink', mode: 0o777, size: Buffer.byteLength(target), nlink: 1 });
    expect(h.sm.readlink(link.inode)).to.equal(target);
    const longest = 't'.repeat(LIMITS.symlinkTargetMaxBytes);
    expect(h.sm.readlink(attrOf(h.makeNode(ROOT_INODE, 'long', { kind: 'FILE_KIND_SYMLINK', target: longest })).inode)).to.equal(longest);
    // In the middle of a path, as a file would be: NOT_A_DIRECTORY.
    h.fails('NOT_A_DIRECTORY', () => h.create('/l/x'));
    expect(() => h.sm.stat('/l/x')).to.throw().with.property('code', 'NOT_A_DIRECTORY');
    expect(() => h.sm.readlink(ROOT_INODE)).to.throw().with.property('code', 'INVALID_ARGUMENT');
    // No data, no lchmod.
    h.fails('INVALID_ARGUMENT', () => h.truncate(link.inode, 0));
    h.fails('INVALID_ARGUMENT', () => h.allocate(link.inode, 0));
    h.fails('INVALID_ARGUMENT', () => h.commit(link.inode, 1));
    h.fails('INVALID_ARGUMENT', () => h.setAttrInode(link.inode, { mode: 0o700 }));
    expect(attrOf(h.setAttrInode(link.inode, { uid: 5 })).uid).to.equal(5);
  });

  it('refuses bad symlink targets as symlink(2) does, and targets on other kinds', () => {
    const h = new Harness().init();
    h.fails('NOT_FOUND', () => h.makeNode(ROOT_INODE, 'l', { kind: 'FILE_KIND_SYMLINK', target: '' }));
    h.fails('NAME_TOO_LONG', () => h.makeNode(ROOT_INODE, 'l', { kind: 'FILE_KIND_SYMLINK', target: 'é'.repeat(LIMITS.symlinkTargetMaxBytes / 2 + 1) }));
    h.fails('INVALID_ARGUMENT', () => h.makeNode(ROOT_INODE, 'l', { kind: 'FILE_KIND_SYMLINK', target: 'a\0b' }));
    h.fails('INVALID_ARGUMENT', () => h.makeNode(ROOT_INODE, 'f', { kind: 'FILE_KIND_FILE', target: 'x' }));
    h.fails('INVALID_ARGUMENT', () => h.makeNode(ROOT_INODE, 'u', { kind: 'FILE_KIND_UNSPECIFIED' }));
  });

  it('refuses bad names and parents: INVALID_ARGUMENT, NAME_TOO_LONG, NOT_FOUND, NOT_A_DIRECTORY', () => {
    const h = new Harness().init();
    const file = h.file('/f');
    for (const name of ['', '.', '..', 'a/b', 'a\0b']) h.fails('INVALID_ARGUMENT', () => h.makeNode(ROOT_INODE, name));
    h.fails('NAME_TOO_LONG', () => h.makeNode(ROOT_INODE, 'n'.repeat(LIMITS.nameMaxBytes + 1)));
    h.fails('NOT_FOUND', () => h.makeNode(999, 'x'));
    h.fails('NOT_FOUND', () => h.makeNode(0, 'x'));
    h.fails('NOT_A_DIRECTORY', () => h.makeNode(file, 'x'));
    expect(() => h.sm.lookup(file, 'x')).to.throw().with.property('code', 'NOT_A_DIRECTORY');
    expect(() => h.sm.lookup(ROOT_INODE, 'missing')).to.throw().with.property('code', 'NOT_FOUND');
    expect(() => h.sm.readDir(file, '', 0)).to.throw().with.property('code', 'NOT_A_DIRECTORY');
  });

  it('an existing name: a file without exclusive opens it (a directory is IS_A_DIRECTORY); anything else is ALREADY_EXISTS', () => {
    const h = new Harness().init();
    const f = attrOf(h.makeNode(ROOT_INODE, 'f'));
    h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    h.node(ROOT_INODE, 'p', 'FILE_KIND_FIFO');
    expect(attrOf(h.unchanged(() => h.makeNode(ROOT_INODE, 'f')))).to.deep.equal(f);
    expect(attrOf(h.unchanged(() => h.makeNode(ROOT_INODE, 'p'))).kind).to.equal('fifo');
    h.fails('IS_A_DIRECTORY', () => h.makeNode(ROOT_INODE, 'd'));
    h.fails('ALREADY_EXISTS', () => h.makeNode(ROOT_INODE, 'f', { exclusive: true }));
    for (const kind of ['FILE_KIND_DIRECTORY', 'FILE_KIND_SYMLINK', 'FILE_KIND_SOCKET'] as const) {
      h.fails('ALREADY_EXISTS', () => h.makeNode(ROOT_INODE, 'f', { kind, target: kind === 'FILE_KIND_SYMLINK' ? 'x' : '' }));
    }
  });

  it('readDir pages a directory by inode in name order, with every kind', () => {
    const h = new Harness().init();
    const dir = h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    for (const name of ['c', 'a', 'b']) h.node(dir, name, 'FILE_KIND_SYMLINK');
    const first = h.sm.readDir(dir, '', 2);
    expect(first.entries.map((e) => e.name)).to.deep.equal(['a', 'b']);
    expect(first.hasMore).to.equal(true);
    const rest = h.sm.readDir(dir, 'b', 2);
    expect(rest.entries.map((e) => [e.name, e.attr.kind])).to.deep.equal([['c', 'symlink']]);
    expect(rest.hasMore).to.equal(false);
  });
});

describe('master state machine: hard links', () => {
  it('link adds a name: nlink grows, the inode gets a new ctime and the new parent new times', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const dir = h.dir('/d');
    const t = h.time;
    const linked = attrOf(h.link(f, dir, 'g'));
    expect(linked).to.include({ inode: f, nlink: 2, ctimeUs: t });
    expect(h.sm.stat('/d/g')).to.deep.equal(linked);
    expect(h.sm.stat('/f')).to.deep.equal(linked);
    expect(h.sm.statInode(dir)).to.include({ mtimeUs: t, ctimeUs: t, nlink: 2 });
  });

  it('refuses a directory (NOT_PERMITTED), an existing name (ALREADY_EXISTS), a missing inode or parent (NOT_FOUND)', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const dir = h.dir('/d');
    h.fails('NOT_PERMITTED', () => h.link(dir, ROOT_INODE, 'd2'));
    h.fails('ALREADY_EXISTS', () => h.link(f, ROOT_INODE, 'd'));
    h.fails('NOT_FOUND', () => h.link(999, ROOT_INODE, 'x'));
    h.fails('NOT_FOUND', () => h.link(f, 999, 'x'));
    h.fails('NOT_A_DIRECTORY', () => h.link(f, f, 'x'));
    h.fails('INVALID_ARGUMENT', () => h.link(f, ROOT_INODE, '..'));
  });

  it('every kind but a directory may be linked', () => {
    const h = new Harness().init();
    for (const kind of ['FILE_KIND_SYMLINK', 'FILE_KIND_FIFO', 'FILE_KIND_SOCKET', 'FILE_KIND_CHAR_DEVICE'] as const) {
      const inode = h.node(ROOT_INODE, kind, kind);
      expect(attrOf(h.link(inode, ROOT_INODE, `${kind}-2`)).nlink).to.equal(2);
    }
  });

  it('unlinking one name keeps the inode and its data under the other; only the last link sends it to the trash (nlink 0)', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const handle = chunkOf(h.allocate(f, 0)).handle;
    ok(h.commit(f, 100));
    ok(h.link(f, ROOT_INODE, 'g'));
    let t = h.time;
    ok(h.remove(ROOT_INODE, 'f'));
    expect(h.sm.stat('/g')).to.include({ inode: f, nlink: 1, size: 100, ctimeUs: t });
    expect(h.sm.counts().trash).to.equal(0);
    ok(h.purge(h.time));
    expect(h.sm.chunk(handle)).to.not.equal(undefined);
    t = h.time;
    ok(h.remove(ROOT_INODE, 'g'));
    expect(h.sm.counts().trash).to.equal(1);
    expect(h.sm.statInode(f)).to.include({ nlink: 0, ctimeUs: t, size: 100 });
    expect(h.sm.getChunks(f, 0, 0).chunks.map((c) => c.handle)).to.deep.equal([handle]);
    // An unlinked inode cannot be linked again (Linux: ENOENT), but is still usable by inode.
    h.fails('NOT_FOUND', () => h.link(f, ROOT_INODE, 'back'));
    ok(h.commit(f, 200));
    ok(h.purge(h.time));
    expect(() => h.sm.statInode(f)).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.chunk(handle)).to.equal(undefined);
  });

  it('a rename that replaces one link of an inode leaves its other links', () => {
    const h = new Harness().init();
    const victim = h.file('/victim');
    ok(h.link(victim, ROOT_INODE, 'other'));
    h.file('/new');
    ok(h.rename('/new', '/victim'));
    expect(h.sm.stat('/other')).to.include({ inode: victim, nlink: 1 });
    expect(h.sm.counts().trash).to.equal(0);
  });

  it('renaming onto another link of the same inode succeeds and changes nothing, as rename(2)', () => {
    const h = new Harness().init();
    const f = h.file('/f');
    const dir = h.dir('/d');
    ok(h.link(f, dir, 'g'));
    h.unchanged(() => h.rename('/f', '/d/g'));
    h.unchanged(() => h.renameAt(dir, 'g', ROOT_INODE, 'f'));
    h.unchanged(() => h.renameAt(dir, 'g', ROOT_INODE, 'f', { exchange: true }));
    h.fails('ALREADY_EXISTS', () => h.renameAt(dir, 'g', ROOT_INODE, 'f', { noReplace: true }));
  });

  it('a recursive delete counts its subtree\'s links until the purge, which keeps inodes that are linked elsewhere', () => {
    const h = new Harness().init();
    h.dir('/d');
    const f = h.file('/d/f');
    ok(h.link(f, ROOT_INODE, 'outside'));
    ok(h.link(f, h.sm.stat('/d').inode, 'twice'));
    const lonely = h.file('/d/lonely');
    ok(h.delete('/d', true));
    expect(h.sm.stat('/outside').nlink).to.equal(3);
    ok(h.purge(h.time));
    expect(h.sm.stat('/outside')).to.include({ inode: f, nlink: 1 });
    expect(() => h.sm.statInode(lonely)).to.throw().with.property('code', 'NOT_FOUND');
    // Now its last link goes the ordinary way.
    ok(h.remove(ROOT_INODE, 'outside'));
    ok(h.purge(h.time));
    expect(() => h.sm.statInode(f)).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.counts()).to.include({ files: 0, directories: 1, trash: 0 });
  });

  it(`caps links at LIMITS.linksMax (${LIMITS.linksMax}) with TOO_MANY_LINKS`, function () {
    this.timeout(30_000); // 65,000 entries
    const h = new Harness().init();
    const f = h.file('/f');
    const dir = h.dir('/links');
    for (let i = 1; i < LIMITS.linksMax; i++) {
      const result = h.sm.applyEncoded(encodeEntry(entries.link(h.time++, undefined, { inode: f, newParent: dir, newName: `l${i}` })));
      if (!result.ok) expect.fail(`link ${i}: ${result.error.message}`);
    }
    expect(h.sm.statInode(f).nlink).to.equal(LIMITS.linksMax);
    h.roundTrip = false;
    h.fails('TOO_MANY_LINKS', () => h.link(f, dir, 'one-more'));
    ok(h.remove(dir, 'l1'));
    expect(attrOf(h.link(f, dir, 'one-more')).nlink).to.equal(LIMITS.linksMax);
  });
});

describe('master state machine: deleted directories', () => {
  it('an rmdir\'d directory is empty to lookups, and nothing can be made in it (NOT_FOUND), as IS_DEADDIR', () => {
    const h = new Harness().init();
    const dir = h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    ok(h.remove(ROOT_INODE, 'd', true));
    expect(h.sm.statInode(dir)).to.include({ kind: 'directory', nlink: 2 });
    h.fails('NOT_FOUND', () => h.makeNode(dir, 'x'));
    const f = h.file('/f');
    h.fails('NOT_FOUND', () => h.link(f, dir, 'x'));
    h.fails('NOT_FOUND', () => h.renameAt(ROOT_INODE, 'f', dir, 'x'));
    expect(h.sm.readDir(dir, '', 0)).to.deep.equal({ entries: [], hasMore: false });
  });

  it('so is every directory of a subtree deleted whole, though it still holds its entries until the purge', () => {
    const h = new Harness().init();
    h.dir('/top/sub');
    const sub = h.sm.stat('/top/sub').inode;
    h.file('/top/sub/f');
    ok(h.delete('/top', true));
    expect(() => h.sm.lookup(sub, 'f')).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.readDir(sub, '', 0).entries).to.deep.equal([]);
    h.fails('NOT_FOUND', () => h.remove(sub, 'f'));
  });
});

describe('master state machine: remove (unlink and rmdir by inode)', () => {
  it('unlink of a directory is IS_A_DIRECTORY; rmdir of anything else NOT_A_DIRECTORY, of a non-empty one NOT_EMPTY', () => {
    const h = new Harness().init();
    const dir = h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    h.node(dir, 'x', 'FILE_KIND_FIFO');
    h.fails('IS_A_DIRECTORY', () => h.remove(ROOT_INODE, 'd'));
    h.fails('NOT_EMPTY', () => h.remove(ROOT_INODE, 'd', true));
    h.fails('NOT_A_DIRECTORY', () => h.remove(dir, 'x', true));
    h.fails('NOT_FOUND', () => h.remove(dir, 'y'));
    ok(h.remove(dir, 'x'));
    const t = h.time;
    ok(h.remove(ROOT_INODE, 'd', true));
    expect(h.sm.statInode(ROOT_INODE)).to.include({ nlink: 2, mtimeUs: t, ctimeUs: t });
  });
});

describe('master state machine: exactly-once of the inode operations', () => {
  const req = (seq: number) => ({ clientId: 'fuse', seq });

  it('a retried makeNode, link, remove, renameAt or setattr by inode, alone or in a batch, applies once and answers as the first time', () => {
    const h = new Harness().init();
    const made = attrOf(h.makeNode(ROOT_INODE, 'f', {}, undefined, req(1)));
    const again = h.unchanged(() => h.makeNode(ROOT_INODE, 'f', { exclusive: true }, undefined, req(1)));
    expect(again.duplicate).to.equal(true);
    expect(attrOf(again).inode).to.equal(made.inode);

    const subEntries = [
      entries.link(0, req(2), { inode: made.inode, newParent: ROOT_INODE, newName: 'g' }),
      entries.renameAt(0, req(3), { parent: ROOT_INODE, name: 'g', newParent: ROOT_INODE, newName: 'h' }),
      entries.setAttr(0, req(4), { inode: made.inode, mode: 0o600, mtimeNow: true }),
      entries.remove(0, req(5), { parent: ROOT_INODE, name: 'f' }),
    ];
    const first = valueOf(h.apply((t) => entries.batch(t, subEntries)));
    if (first.kind !== 'batch') expect.fail('a batch result');
    expect(first.results.map((r) => r.ok)).to.deep.equal([true, true, true, true]);
    const state = h.sm.snapshot();
    const retried = valueOf(h.apply((t) => entries.batch(t, subEntries)));
    if (retried.kind !== 'batch') expect.fail('a batch result');
    expect(retried.results.map((r) => r.ok && r.duplicate)).to.deep.equal([true, true, true, true]);
    // Only the sessions' last-seen times may move; the namespace is as it was.
    expect(h.sm.stat('/h')).to.include({ inode: made.inode, nlink: 1, mode: 0o600 });
    expect(() => h.sm.stat('/f')).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.snapshot().length).to.equal(state.length);
  });

  it('a retried failure answers the same error, even once the request could succeed', () => {
    const h = new Harness().init();
    const dir = h.node(ROOT_INODE, 'd', 'FILE_KIND_DIRECTORY');
    expectError(h.remove(dir, 'x', false, undefined, req(9)), 'NOT_FOUND');
    h.node(dir, 'x', 'FILE_KIND_FIFO');
    const retry = h.remove(dir, 'x', false, undefined, req(9));
    expectError(retry, 'NOT_FOUND');
    expect(retry.duplicate).to.equal(true);
    expect(h.at(dir, 'x').kind).to.equal('fifo');
  });

  it('the new operations may travel in a batch; anything not a client mutation may not', () => {
    const h = new Harness().init();
    const value = valueOf(
      h.apply((t) =>
        entries.batch(t, [
          entries.makeNode(0, undefined, { parent: ROOT_INODE, name: 's', kind: 'FILE_KIND_SYMLINK', target: '/x' }),
          entries.purgeTrash(0, undefined, { deletedBeforeUs: 1 }),
        ]),
      ),
    );
    if (value.kind !== 'batch') expect.fail('a batch result');
    expect(value.results[0]!.ok).to.equal(true);
    expectError(value.results[1]!, 'INVALID_ARGUMENT');
    expect(h.sm.readlink(h.at(ROOT_INODE, 's').inode as InodeId)).to.equal('/x');
  });
});
