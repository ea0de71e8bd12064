import { expect } from 'chai';

import type { ErrorCode } from '../../../common/errors.js';
import type { InodeId } from '../../../common/ids.js';
import { entries } from '../../../master/log-entry.js';
import { type ApplyResult } from '../../../master/state-machine.js';
import { attrOf, type Caller, expectError, Harness, ok, ROOT, ROOT_INODE, user } from './harness.js';

/** Group 50 is "staff": alice is in it as a supplementary group, carol as her primary group; bob is not. */
const alice = user(1000, 1000, [50]);
const bob = user(1001, 1001);
const carol = user(1002, 50);
const STAFF = 50;

/**
 * A namespace as root made it: /home (0755, root), /home/alice (0750, alice:staff) holding her
 * file notes (0640) and a directory docs (0755); /tmp (1777, root); /shared (2775, root:staff);
 * /private (0700, root).
 */
function world(): { h: Harness; home: InodeId; aliceHome: InodeId; notes: InodeId; docs: InodeId; tmp: InodeId; shared: InodeId; priv: InodeId } {
  const h = new Harness().init();
  const dir = (parent: number, name: string, mode: number, uid = 0, gid = 0) =>
    attrOf(h.makeNode(parent, name, { kind: 'FILE_KIND_DIRECTORY', mode, uid, gid })).inode;
  const home = dir(ROOT_INODE, 'home', 0o755);
  const aliceHome = dir(home, 'alice', 0o750, alice.uid, STAFF);
  const notes = attrOf(h.makeNode(aliceHome, 'notes', { mode: 0o640, uid: alice.uid, gid: STAFF })).inode;
  const docs = dir(aliceHome, 'docs', 0o755, alice.uid, STAFF);
  const tmp = dir(ROOT_INODE, 'tmp', 0o1777);
  const shared = dir(ROOT_INODE, 'shared', 0o2775, 0, STAFF);
  const priv = dir(ROOT_INODE, 'private', 0o700);
  return { h, home, aliceHome, notes, docs, tmp, shared, priv };
}

function outcome(result: ApplyResult): 'ok' | ErrorCode {
  return result.ok ? 'ok' : result.error.code;
}

function read(run: () => unknown): 'ok' | ErrorCode {
  try {
    run();
    return 'ok';
  } catch (err) {
    return (err as { code: ErrorCode }).code;
  }
}

describe('master permissions: search and read', () => {
  it('lookup needs search (x) on the directory, chosen by owner class, then group, then others', () => {
    const { h, aliceHome, home } = world();
    const cases: [Caller, 'ok' | ErrorCode][] = [
      [alice, 'ok'], // owner: rwx
      [carol, 'ok'], // group staff: r-x
      [bob, 'PERMISSION_DENIED'], // others: ---
      [ROOT, 'ok'],
    ];
    for (const [caller, expected] of cases) expect(read(() => h.sm.lookup(aliceHome, 'notes', caller)), `uid ${caller.uid}`).to.equal(expected);
    // The owner class is used even when it grants less than the group's.
    ok(h.setAttrInode(aliceHome, { mode: 0o070 }));
    expect(read(() => h.sm.lookup(aliceHome, 'notes', alice))).to.equal('PERMISSION_DENIED');
    expect(read(() => h.sm.lookup(aliceHome, 'notes', carol))).to.equal('ok');
    expect(read(() => h.sm.lookup(home, 'alice', bob))).to.equal('ok');
  });

  it('a path needs search on every directory on the way; listing needs read on the directory', () => {
    const { h } = world();
    expect(read(() => h.sm.stat('/home/alice/notes', bob))).to.equal('PERMISSION_DENIED');
    expect(read(() => h.sm.stat('/home/alice/notes', carol))).to.equal('ok');
    expect(read(() => h.sm.stat('/home/alice', bob))).to.equal('ok'); // search on /home only
    expect(read(() => h.sm.list('/home/alice', '', 0, bob))).to.equal('PERMISSION_DENIED');
    expect(read(() => h.sm.list('/home', '', 0, bob))).to.equal('ok');
    expect(read(() => h.sm.stat('/private/x', alice))).to.equal('PERMISSION_DENIED');
    expect(read(() => h.sm.stat('/private/x', ROOT))).to.equal('NOT_FOUND');
  });

  it('readDir needs read, lookup only search: a 0711 directory can be walked through but not listed', () => {
    const { h, docs } = world();
    ok(h.makeNode(docs, 'visible'));
    ok(h.setAttrInode(docs, { mode: 0o711 }));
    expect(read(() => h.sm.readDir(docs, '', 0, bob))).to.equal('PERMISSION_DENIED');
    expect(read(() => h.sm.readDir(docs, '', 0, alice))).to.equal('ok');
    expect(read(() => h.sm.readDir(docs, '', 0, ROOT))).to.equal('ok');
    expect(read(() => h.sm.lookup(docs, 'visible', bob))).to.equal('ok');
  });

  it('stat by inode and readlink need no permission (fstat, an inode already reached)', () => {
    const { h, notes } = world();
    expect(h.sm.statInode(notes).uid).to.equal(alice.uid);
  });
});

describe('master permissions: creating', () => {
  it('needs write and search on the parent: uid 1000 cannot create in a 0755 root directory, root can', () => {
    const { h, home } = world();
    const cases: [Caller, 'ok' | ErrorCode][] = [
      [alice, 'PERMISSION_DENIED'],
      [bob, 'PERMISSION_DENIED'],
      [ROOT, 'ok'],
    ];
    for (const [caller, expected] of cases) {
      for (const kind of ['FILE_KIND_FILE', 'FILE_KIND_DIRECTORY', 'FILE_KIND_FIFO'] as const) {
        expect(outcome(h.makeNode(home, `${kind}-${caller.uid}`, { kind }, caller)), `${kind} by ${caller.uid}`).to.equal(expected);
      }
    }
    expect(outcome(h.mkdir('/home/x', {}, undefined))).to.equal('ok'); // no caller: nothing checked
    expect(outcome(h.apply((t) => entries.create(t, undefined, { path: '/home/y', mode: 0o644, caller: bob })))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.apply((t) => entries.mkdir(t, undefined, { path: '/home/alice/docs/deep/er', mode: 0o755, parents: true, caller: bob })))).to.equal(
      'PERMISSION_DENIED',
    );
  });

  it('the new inode belongs to the caller: its uid and its gid', () => {
    const { h, tmp } = world();
    expect(attrOf(h.makeNode(tmp, 'f', { mode: 0o600 }, bob))).to.include({ uid: bob.uid, gid: bob.gid, mode: 0o600 });
    expect(attrOf(h.apply((t) => entries.mkdir(t, undefined, { path: '/tmp/a/b', mode: 0o750, parents: true, caller: alice })))).to.include({
      uid: alice.uid,
      gid: alice.gid,
      mode: 0o750,
    });
    expect(h.sm.stat('/tmp/a')).to.include({ uid: alice.uid, mode: 0o750 });
  });

  it('mkdir -p by a caller refuses a mode that would lock it out of the directories it makes, before making any', () => {
    const { h } = world();
    const result = h.fails('PERMISSION_DENIED', () => h.apply((t) => entries.mkdir(t, undefined, { path: '/tmp/x/y', mode: 0o555, parents: true, caller: alice })));
    expect(result.ok).to.equal(false);
    ok(h.apply((t) => entries.mkdir(t, undefined, { path: '/tmp/x/y', mode: 0o555, parents: true, caller: ROOT })));
  });

  it('a set-group-ID directory gives its group to what is made in it, and its S_ISGID to new directories', () => {
    const { h, shared } = world();
    expect(attrOf(h.makeNode(shared, 'f', { mode: 0o644 }, alice))).to.include({ uid: alice.uid, gid: STAFF, mode: 0o644 });
    expect(attrOf(h.makeNode(shared, 'd', { kind: 'FILE_KIND_DIRECTORY', mode: 0o755 }, alice))).to.include({ gid: STAFF, mode: 0o2755 });
    // A group-executable S_ISGID file made by someone outside the group loses S_ISGID (mode_strip_sgid)...
    ok(h.setAttrInode(shared, { mode: 0o2777 }));
    expect(attrOf(h.makeNode(shared, 'bobs', { mode: 0o2755 }, bob))).to.include({ gid: STAFF, mode: 0o755 });
    // ...but not by a member, nor by root, nor without group execute.
    expect(attrOf(h.makeNode(shared, 'carols', { mode: 0o2755 }, carol)).mode).to.equal(0o2755);
    expect(attrOf(h.makeNode(shared, 'roots', { mode: 0o2755 }, ROOT)).mode).to.equal(0o2755);
    expect(attrOf(h.makeNode(shared, 'bobs2', { mode: 0o2745 }, bob)).mode).to.equal(0o2745);
  });

  it('mkdir ignores S_ISUID and S_ISGID in the mode asked for (outside a set-group-ID directory)', () => {
    const { h, tmp } = world();
    expect(attrOf(h.makeNode(tmp, 'd', { kind: 'FILE_KIND_DIRECTORY', mode: 0o7755 }, alice)).mode).to.equal(0o1755);
  });

  it('only root may make devices (CAP_MKNOD): NOT_PERMITTED, after the permission on the parent', () => {
    const { h, tmp, home } = world();
    expect(outcome(h.makeNode(tmp, 'c', { kind: 'FILE_KIND_CHAR_DEVICE', rdev: 5 }, alice))).to.equal('NOT_PERMITTED');
    expect(outcome(h.makeNode(home, 'c', { kind: 'FILE_KIND_CHAR_DEVICE', rdev: 5 }, alice))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.makeNode(tmp, 'c', { kind: 'FILE_KIND_BLOCK_DEVICE', rdev: 5 }, ROOT))).to.equal('ok');
    expect(outcome(h.makeNode(tmp, 'p', { kind: 'FILE_KIND_FIFO' }, alice))).to.equal('ok');
  });

  it('another owner may be asked for as a chown would allow: any by root, only own groups by others', () => {
    const { h, tmp } = world();
    expect(attrOf(h.makeNode(tmp, 'r', { uid: 4242, gid: 77 }, ROOT))).to.include({ uid: 4242, gid: 77 });
    expect(attrOf(h.makeNode(tmp, 'a', { gid: STAFF }, alice))).to.include({ uid: alice.uid, gid: STAFF });
    expect(attrOf(h.makeNode(tmp, 'a2', { uid: alice.uid }, alice)).uid).to.equal(alice.uid);
    expect(outcome(h.makeNode(tmp, 'x', { uid: 4242 }, alice))).to.equal('NOT_PERMITTED');
    expect(outcome(h.makeNode(tmp, 'y', { gid: 77 }, alice))).to.equal('NOT_PERMITTED');
  });
});

describe('master permissions: removing and renaming', () => {
  it('removing needs write and search on the parent', () => {
    const { h, aliceHome } = world();
    expect(outcome(h.remove(aliceHome, 'notes', false, carol))).to.equal('PERMISSION_DENIED'); // r-x
    expect(outcome(h.remove(aliceHome, 'notes', false, bob))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.apply((t) => entries.delete(t, undefined, { path: '/home/alice/notes', caller: bob })))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.remove(aliceHome, 'notes', false, alice))).to.equal('ok');
    expect(outcome(h.remove(aliceHome, 'docs', true, ROOT))).to.equal('ok');
  });

  it('in a sticky directory only the entry\'s owner, the directory\'s owner or root may remove or replace an entry', () => {
    const { h, tmp } = world();
    ok(h.makeNode(tmp, 'alices', {}, alice));
    ok(h.makeNode(tmp, 'bobs', {}, bob));
    const cases: [string, () => ApplyResult, 'ok' | ErrorCode][] = [
      ['bob unlinks alice\'s', () => h.remove(tmp, 'alices', false, bob), 'NOT_PERMITTED'],
      ['bob renames alice\'s away', () => h.renameAt(tmp, 'alices', tmp, 'mine', {}, bob), 'NOT_PERMITTED'],
      ['bob replaces alice\'s', () => h.renameAt(tmp, 'bobs', tmp, 'alices', {}, bob), 'NOT_PERMITTED'],
      ['bob exchanges with alice\'s', () => h.renameAt(tmp, 'bobs', tmp, 'alices', { exchange: true }, bob), 'NOT_PERMITTED'],
      ['alice renames her own', () => h.renameAt(tmp, 'alices', tmp, 'alices2', {}, alice), 'ok'],
      ['root unlinks bob\'s', () => h.remove(tmp, 'bobs', false, ROOT), 'ok'],
    ];
    for (const [what, run, expected] of cases) expect(outcome(run()), what).to.equal(expected);
    // The directory's owner may.
    const owned = attrOf(h.makeNode(ROOT_INODE, 'owned', { kind: 'FILE_KIND_DIRECTORY', mode: 0o1777, uid: carol.uid, gid: carol.gid })).inode;
    ok(h.makeNode(owned, 'bobs', {}, bob));
    expect(outcome(h.remove(owned, 'bobs', false, carol))).to.equal('ok');
  });

  it('a recursive delete by a non-root caller needs what rm -r would: rwx on every non-empty directory and the sticky rule in each', () => {
    const { h, tmp } = world();
    ok(h.apply((t) => entries.mkdir(t, undefined, { path: '/tmp/tree/sub', mode: 0o755, parents: true, caller: alice })));
    ok(h.makeNode(h.sm.stat('/tmp/tree/sub').inode, 'f', {}, alice));
    ok(h.setAttrInode(h.sm.stat('/tmp/tree/sub').inode, { mode: 0o555 }, alice));
    expect(outcome(h.apply((t) => entries.delete(t, undefined, { path: '/tmp/tree', recursive: true, caller: alice })))).to.equal('PERMISSION_DENIED');
    ok(h.setAttrInode(h.sm.stat('/tmp/tree/sub').inode, { mode: 0o755 }, alice));
    expect(outcome(h.apply((t) => entries.delete(t, undefined, { path: '/tmp/tree', recursive: true, caller: bob })))).to.equal('NOT_PERMITTED');
    expect(outcome(h.apply((t) => entries.delete(t, undefined, { path: '/tmp/tree', recursive: true, caller: alice })))).to.equal('ok');
    expect(read(() => h.sm.lookup(tmp, 'tree'))).to.equal('NOT_FOUND');
  });

  it('renaming needs write and search on both parents, and write on a directory that changes parent (its "..")', () => {
    const { h, tmp, aliceHome, docs } = world();
    expect(outcome(h.renameAt(aliceHome, 'notes', tmp, 'notes', {}, carol))).to.equal('PERMISSION_DENIED');
    ok(h.setAttrInode(docs, { mode: 0o555 }, alice));
    expect(outcome(h.renameAt(aliceHome, 'docs', tmp, 'docs', {}, alice))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.renameAt(aliceHome, 'docs', aliceHome, 'documents', {}, alice))).to.equal('ok');
    expect(outcome(h.renameAt(aliceHome, 'documents', tmp, 'docs', {}, ROOT))).to.equal('ok');
    expect(outcome(h.renameAt(aliceHome, 'notes', tmp, 'notes', {}, alice))).to.equal('ok');
    expect(outcome(h.apply((t) => entries.rename(t, undefined, { source: '/tmp/notes', destination: '/home/notes', caller: alice })))).to.equal(
      'PERMISSION_DENIED',
    );
  });

  it('link needs write and search on the new parent', () => {
    const { h, notes, home, tmp } = world();
    expect(outcome(h.link(notes, home, 'n', alice))).to.equal('PERMISSION_DENIED');
    expect(outcome(h.link(notes, tmp, 'n', bob))).to.equal('ok'); // fs.protected_hardlinks is not applied
  });
});

describe('master permissions: attributes', () => {
  it('chmod: the owner or root (NOT_PERMITTED otherwise); a non-root owner outside the file\'s group loses S_ISGID', () => {
    const { h, notes } = world();
    expect(outcome(h.setAttrInode(notes, { mode: 0o600 }, bob))).to.equal('NOT_PERMITTED');
    expect(outcome(h.setAttrInode(notes, { mode: 0o600 }, carol))).to.equal('NOT_PERMITTED');
    expect(attrOf(h.setAttrInode(notes, { mode: 0o2755 }, alice)).mode).to.equal(0o2755); // alice is in staff
    ok(h.setAttrInode(notes, { gid: 77 }, ROOT));
    expect(attrOf(h.setAttrInode(notes, { mode: 0o2755 }, alice)).mode).to.equal(0o755); // no longer
    expect(attrOf(h.setAttrInode(notes, { mode: 0o2755 }, ROOT)).mode).to.equal(0o2755);
  });

  it('chmod with chgrp in one request judges S_ISGID by the new group (on a directory, which no chown clears)', () => {
    const { h, docs } = world();
    ok(h.setAttrInode(docs, { gid: 77 }, ROOT));
    expect(attrOf(h.setAttrInode(docs, { mode: 0o2755 }, alice)).mode).to.equal(0o755);
    expect(attrOf(h.setAttrInode(docs, { mode: 0o2755, gid: STAFF }, alice))).to.include({ mode: 0o2755, gid: STAFF });
  });

  it('chown: root only, but an owner may "change" the owner to itself; chgrp: root, or the owner to a group it is in', () => {
    const { h, notes } = world();
    const cases: [Caller, { uid?: number; gid?: number }, 'ok' | ErrorCode][] = [
      [alice, { uid: bob.uid }, 'NOT_PERMITTED'],
      [alice, { uid: alice.uid }, 'ok'],
      [bob, { uid: bob.uid }, 'NOT_PERMITTED'],
      [alice, { gid: alice.gid }, 'ok'],
      [alice, { gid: STAFF }, 'ok'],
      [alice, { gid: 77 }, 'NOT_PERMITTED'],
      [carol, { gid: STAFF }, 'NOT_PERMITTED'], // in the group but not the owner
      [ROOT, { uid: bob.uid, gid: 77 }, 'ok'],
    ];
    for (const [caller, change, expected] of cases) {
      expect(outcome(h.setAttrInode(notes, change, caller)), `${JSON.stringify(change)} by ${caller.uid}`).to.equal(expected);
    }
    expect(h.sm.statInode(notes)).to.include({ uid: bob.uid, gid: 77 });
  });

  it('chown and chgrp of a non-directory clear S_ISUID even for root, and S_ISGID when group-executable or the caller is outside the group', () => {
    const { h, notes, docs } = world();
    const modeAfter = (start: number, change: { uid?: number; gid?: number }, caller: Caller): number => {
      ok(h.setAttrInode(notes, { mode: start, uid: alice.uid, gid: STAFF }));
      return attrOf(h.setAttrInode(notes, change, caller)).mode;
    };
    expect(modeAfter(0o6755, { uid: alice.uid }, ROOT)).to.equal(0o755);
    expect(modeAfter(0o6745, { uid: alice.uid }, ROOT)).to.equal(0o2745); // S_ISGID without group execute: kept for root
    expect(modeAfter(0o4755, { gid: alice.gid }, alice)).to.equal(0o755);
    expect(modeAfter(0o2745, { gid: alice.gid }, alice)).to.equal(0o2745); // alice is in staff, the file's group
    ok(h.setAttrInode(docs, { mode: 0o6755 }, ROOT));
    expect(attrOf(h.setAttrInode(docs, { uid: bob.uid }, ROOT)).mode).to.equal(0o6755); // directories keep both
  });

  it('utimensat: explicit times only by the owner or root; "now" for both also by anyone with write permission', () => {
    const { h, notes } = world();
    const cases: [Caller, { atimeUs?: number; mtimeUs?: number; atimeNow?: boolean; mtimeNow?: boolean }, 'ok' | ErrorCode][] = [
      [carol, { atimeUs: 5, mtimeUs: 6 }, 'NOT_PERMITTED'],
      [carol, { atimeNow: true, mtimeNow: true }, 'PERMISSION_DENIED'], // staff has r-- only
      [alice, { atimeUs: 5, mtimeUs: 6 }, 'ok'],
      [ROOT, { mtimeUs: 7 }, 'ok'],
    ];
    for (const [caller, change, expected] of cases) expect(outcome(h.setAttrInode(notes, change, caller)), JSON.stringify(change)).to.equal(expected);
    ok(h.setAttrInode(notes, { mode: 0o660 }, alice));
    expect(outcome(h.setAttrInode(notes, { atimeNow: true, mtimeNow: true }, carol))).to.equal('ok');
    expect(outcome(h.setAttrInode(notes, { mtimeNow: true }, carol))).to.equal('NOT_PERMITTED'); // one time alone counts as explicit
    expect(outcome(h.setAttrInode(notes, { mtimeUs: 1 }, carol))).to.equal('NOT_PERMITTED');
  });

  it('truncate needs write permission; a write or truncate by anyone but root clears S_ISUID (and S_ISGID when group-executable)', () => {
    const { h, notes } = world();
    const truncate = (caller: Caller) => h.apply((t) => entries.truncate(t, undefined, { inode: notes, size: 0, caller }));
    const commit = (caller: Caller) => h.apply((t) => entries.commitWrite(t, undefined, { inode: notes, endOffset: 10, caller }));
    expect(outcome(truncate(bob))).to.equal('PERMISSION_DENIED');
    expect(outcome(truncate(carol))).to.equal('PERMISSION_DENIED');
    ok(h.setAttrInode(notes, { mode: 0o6775 }));
    expect(attrOf(truncate(ROOT)).mode).to.equal(0o6775);
    expect(attrOf(commit(ROOT)).mode).to.equal(0o6775);
    expect(attrOf(truncate(carol)).mode).to.equal(0o775);
    ok(h.setAttrInode(notes, { mode: 0o6765 }));
    expect(attrOf(commit(alice)).mode).to.equal(0o2765); // S_ISGID without group execute, and alice is in staff
    expectError(h.apply((t) => entries.truncate(t, undefined, { inode: notes, size: 0, caller: bob })), 'PERMISSION_DENIED');
  });

  it('the replication goal is the owner\'s or root\'s to change', () => {
    const { h } = world();
    const set = (caller: Caller) => h.apply((t) => entries.setAttr(t, undefined, { path: '/home/alice/notes', replication: 2, caller }));
    expect(outcome(set(carol))).to.equal('NOT_PERMITTED');
    expect(outcome(set(alice))).to.equal('ok');
  });
});
