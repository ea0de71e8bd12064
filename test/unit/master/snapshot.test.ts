import { expect } from 'chai';

import { ROOT_INODE } from '../../../common/ids.js';
import { messageCodec } from '../../../proto/load.js';
import type { MasterSnapshot, MasterSnapshot__Output } from '../../../proto/generated/dfs/masterlog/MasterSnapshot.js';
import { toWireAttr } from '../../../master/attr.js';
import { decodeEntry, encodeEntry, entries, type LogEntry } from '../../../master/log-entry.js';
import { MasterStateMachine } from '../../../master/state-machine.js';
import { AscendingRows } from '../../../master/ascending-rows.js';
import { CHUNK, expectError, T0 } from './harness.js';

/** A log with every kind of entry, sessions, trash, holes and versions. */
function sampleLog(): LogEntry[] {
  const r = (seq: number) => ({ clientId: 'c1', seq });
  let t = T0;
  return [
    entries.noop(t++),
    entries.initCluster(t++, undefined, { chunkSizeBytes: CHUNK, defaultReplication: 3, clusterId: 'sample' }),
    entries.mkdir(t++, r(1), { path: '/a/b/c', mode: 0o750, uid: 1, gid: 2, parents: true }),
    entries.create(t++, r(2), { path: '/a/f', mode: 0o640, replication: 2 }),
    entries.create(t++, r(3), { path: '/a/b/g', replicateAll: true }),
    entries.allocateChunk(t++, r(4), { inode: 5, index: 0 }),
    entries.allocateChunk(t++, r(5), { inode: 5, index: 3 }),
    entries.allocateChunk(t++, r(6), { inode: 6, index: 1 }),
    entries.commitWrite(t++, r(7), { inode: 5, endOffset: 3 * CHUNK + 10 }),
    entries.bumpVersion(t++, undefined, { handle: 1, version: 4 }),
    entries.confirmVersion(t++, undefined, { handle: 1, version: 4 }),
    entries.setAttr(t++, r(8), { path: '/a', mode: 0o700, mtimeUs: 5 }),
    entries.mkdir(t++, r(9), { path: '/nope/x' }),
    entries.rename(t++, r(10), { source: '/a/b/g', destination: '/a/g2' }),
    entries.create(t++, { clientId: 'c2', seq: 1 }, { path: '/victim' }),
    entries.allocateChunk(t++, undefined, { inode: 7, index: 0 }),
    entries.rename(t++, undefined, { source: '/a/f', destination: '/victim' }),
    entries.delete(t++, r(11), { path: '/a/b', recursive: true }),
    entries.truncate(t++, r(12), { inode: 5, size: CHUNK }),
    entries.create(t++, r(13), { path: '/a/\u00e9t\u00e9 \ud83d\ude00' }),
    // Every kind, hard links in and out of a trashed subtree, an exchange, callers.
    entries.makeNode(t++, r(14), { parent: 1, name: 'sym', kind: 'FILE_KIND_SYMLINK', target: '/a/f' }),
    entries.makeNode(t++, r(15), { parent: 1, name: 'fifo', kind: 'FILE_KIND_FIFO', mode: 0o600, uid: 7, gid: 8, caller: { uid: 0, gid: 0, groups: [9] } }),
    entries.makeNode(t++, r(16), { parent: 2, name: 'tty', kind: 'FILE_KIND_CHAR_DEVICE', rdev: 0x0504 }),
    entries.link(t++, r(17), { inode: 5, newParent: 1, newName: 'victim2' }),
    entries.link(t++, r(18), { inode: 6, newParent: 2, newName: 'g3' }),
    entries.renameAt(t++, r(19), { parent: 1, name: 'fifo', newParent: 2, newName: 'g3', exchange: true }),
    entries.mkdir(t++, r(20), { path: '/h', mode: 0o2775, gid: 50 }),
    entries.create(t++, r(21), { path: '/h/in', caller: { uid: 1000, gid: 1000, groups: [50] } }),
    entries.link(t++, r(22), { inode: 13, newParent: 1, newName: 'out' }),
    entries.delete(t++, r(23), { path: '/h', recursive: true }),
    entries.setAttr(t++, r(24), { inode: 9, uid: 3, mtimeNow: true, caller: { uid: 0, gid: 0, groups: [] } }),
    entries.remove(t++, r(25), { parent: 1, name: 'victim2' }),
    entries.setNodeState(t++, undefined, { serverId: 'cs-b', state: 'NODE_ADMIN_STATE_MAINTENANCE' }),
    entries.setNodeState(t++, undefined, { serverId: 'cs-a', state: 'NODE_ADMIN_STATE_DECOMMISSIONING' }),
    entries.setNodeState(t++, undefined, { serverId: 'cs-c', state: 'NODE_ADMIN_STATE_DECOMMISSIONED' }),
    entries.setNodeState(t++, undefined, { serverId: 'cs-c', state: 'NODE_ADMIN_STATE_ACTIVE' }),
  ];
}

function applyAll(sm: MasterStateMachine, log: readonly LogEntry[]): void {
  for (const entry of log) sm.applyEncoded(encodeEntry(entry));
}

/** Everything a caller can ask, as one comparable value. */
function observe(sm: MasterStateMachine): unknown {
  const tree: unknown[] = [];
  const walk = (path: string): void => {
    const page = sm.list(path, '', 0);
    for (const { name, attr } of page.entries) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      tree.push([child, toWireAttr(attr), attr.kind === 'file' ? sm.getChunks(attr.inode, 0, 0) : null]);
      if (attr.kind === 'directory') walk(child);
    }
  };
  walk('/');
  const chunks: unknown[] = [];
  sm.forEachChunk((handle, version) => chunks.push([handle, version, sm.chunk(handle), sm.chunkGoal(handle)]));
  return { root: sm.stat('/'), tree, chunks, counts: sm.counts(), config: sm.config(), nodeStates: sm.nodeStatesNotActive() };
}

describe('master state machine: snapshots and determinism', () => {
  it('restore(snapshot) answers every query identically and gives the same bytes', () => {
    const sm = new MasterStateMachine();
    applyAll(sm, sampleLog());
    const bytes = sm.snapshot();
    const restored = MasterStateMachine.restore(bytes);
    restored.checkInvariants();
    expect(observe(restored)).to.deep.equal(observe(sm));
    expect(restored.snapshot().equals(bytes)).to.equal(true);
    expect(restored.statInode(7 as never)).to.deep.equal(sm.statInode(7 as never));
  });

  it('after a restore, the same further entries keep both identical, duplicates included', () => {
    const sm = new MasterStateMachine();
    const log = sampleLog();
    applyAll(sm, log.slice(0, 12));
    const restored = MasterStateMachine.restore(sm.snapshot());
    const rest = [...log.slice(12), ...log.slice(2, 6), entries.purgeTrash(T0 + 1000, undefined, { deletedBeforeUs: T0 + 1000, sessionsIdleBeforeUs: 0 })];
    for (const entry of rest) {
      const bytes = encodeEntry(entry);
      const a = sm.applyEncoded(bytes);
      const b = restored.applyEncoded(bytes);
      expect(JSON.stringify(b)).to.equal(JSON.stringify(a));
      expect(restored.snapshot().equals(sm.snapshot())).to.equal(true);
    }
  });

  it('two state machines fed the same entries produce identical snapshot bytes', () => {
    const a = new MasterStateMachine();
    const b = new MasterStateMachine();
    applyAll(a, sampleLog());
    for (const entry of sampleLog()) b.apply(decodeEntry(encodeEntry(entry)));
    expect(a.snapshot().equals(b.snapshot())).to.equal(true);
  });

  it('keeps chunkservers\' admin states (active ones are forgotten), and refuses bad ones', () => {
    const sm = new MasterStateMachine();
    applyAll(sm, sampleLog());
    const restored = MasterStateMachine.restore(sm.snapshot());
    expect(restored.nodeStatesNotActive()).to.deep.equal([
      ['cs-a', 'decommissioning'],
      ['cs-b', 'maintenance'],
    ]);
    expect(restored.nodeState('cs-c')).to.equal('active');
    expectError(restored.apply(decodeEntry(encodeEntry(entries.setNodeState(T0, undefined, { serverId: 'cs-d', state: 'NODE_ADMIN_STATE_UNSPECIFIED' })))), 'INVALID_ARGUMENT');
    expectError(restored.apply(decodeEntry(encodeEntry(entries.setNodeState(T0, undefined, { serverId: 'no spaces', state: 'NODE_ADMIN_STATE_MAINTENANCE' })))), 'INVALID_ARGUMENT');
    expect(restored.snapshot().equals(sm.snapshot())).to.equal(true);
  });

  it('holds every kind, hard links and callers\' owners, as the log made them', () => {
    const sm = new MasterStateMachine();
    applyAll(sm, sampleLog());
    expect(sm.stat('/sym')).to.include({ kind: 'symlink', uid: 3, size: 4 });
    expect(sm.readlink(9 as never)).to.equal('/a/f');
    expect(sm.stat('/a/g3')).to.include({ kind: 'fifo', uid: 7, gid: 8 });
    expect(sm.stat('/fifo')).to.include({ inode: 6, nlink: 2 });
    expect(sm.stat('/a/tty')).to.include({ kind: 'char-device', rdev: 0x0504 });
    expect(sm.stat('/out')).to.include({ inode: 13, nlink: 2, uid: 1000, gid: 50 });
    expect(sm.stat('/victim')).to.include({ inode: 5, nlink: 1 });
    expect(sm.statInode(7 as never).nlink).to.equal(0);
  });

  it('a snapshot from before hard links (nlink 1 on an unlinked inode in the trash) restores with nlink 0', () => {
    const sm = new MasterStateMachine();
    applyAll(sm, sampleLog());
    const codec = messageCodec<MasterSnapshot, MasterSnapshot__Output>('dfs.masterlog.MasterSnapshot');
    const old = codec.decode(sm.snapshot());
    const unlinked = old.inodes.find((i) => i.id === '7')!;
    expect(unlinked.nlink).to.equal(0);
    unlinked.nlink = 1;
    expect(MasterStateMachine.restore(codec.encode(old as MasterSnapshot)).snapshot().equals(sm.snapshot())).to.equal(true);
  });

  it('an uninitialized state machine round-trips', () => {
    const sm = new MasterStateMachine();
    const restored = MasterStateMachine.restore(sm.snapshot());
    expect(restored.config().initialized).to.equal(false);
    expect(restored.snapshot().equals(sm.snapshot())).to.equal(true);
  });

  it('bytes that are not a snapshot are INVALID_ARGUMENT', () => {
    for (const bytes of [Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x22, 0x05, 0x08])]) {
      expect(() => MasterStateMachine.restore(bytes)).to.throw().with.property('code', 'INVALID_ARGUMENT');
    }
    expect(() => MasterStateMachine.restore(Buffer.alloc(0))).to.throw().with.property('code', 'INVALID_ARGUMENT');
  });

  it('an inconsistent snapshot is INVALID_ARGUMENT, whichever invariant it breaks', () => {
    const sm = new MasterStateMachine();
    applyAll(sm, sampleLog());
    const codec = messageCodec<MasterSnapshot, MasterSnapshot__Output>('dfs.masterlog.MasterSnapshot');
    const good = codec.decode(sm.snapshot());
    const tampered: ((s: MasterSnapshot__Output) => void)[] = [
      (s) => (s.inodes.find((i) => i.id === '1')!.nlink = 7),
      (s) => (s.inodes = s.inodes.filter((i) => i.id !== '1')),
      (s) => s.inodes.reverse(),
      (s) => (s.entries[0]!.child = '1'),
      (s) => (s.entries[0]!.name = 'a/b'),
      (s) => s.entries.push({ ...s.entries[0]! }),
      (s) => (s.entries = s.entries.slice(1)),
      (s) => (s.chunks[0]!.refCount = 2),
      (s) => (s.chunks[0]!.index = '9'),
      (s) => (s.chunks[0]!.confirmedVersion = '99'),
      (s) => (s.chunks = s.chunks.slice(1)),
      (s) => (s.nextInode = '3'),
      (s) => (s.nextHandle = '1'),
      (s) => s.trash.push({ ...s.trash[0]! }),
      (s) => (s.inodes.find((i) => i.chunks.length > 0)!.chunks.push('0')),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_FILE')!.replication = 0),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_DIRECTORY' && i.id !== '1')!.parent = '99'),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_SYMLINK')!.symlinkTarget = ''),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_SYMLINK')!.symlinkTarget = 'x'.repeat(5000)),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_SYMLINK')!.size = '1'),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_SYMLINK')!.mode = 0o700),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_FILE')!.symlinkTarget = 'x'),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_FIFO')!.rdev = 5),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_FIFO')!.kind = 'FILE_KIND_UNSPECIFIED'),
      (s) => (s.inodes.find((i) => i.kind === 'FILE_KIND_FIFO')!.chunks = ['3']),
      (s) => (s.inodes.find((i) => i.id === '13')!.nlink = 1), // linked from the trash and from /out
      (s) => (s.inodes.find((i) => i.id === '7')!.nlink = 2), // a trash entry of its own
      (s) => s.entries.push({ parent: '1', name: 'again', child: '2' }), // a directory named twice
      (s) => s.entries.push({ parent: '1', name: 'again', child: '7' }), // an unlinked inode named
      (s) => (s.sessions[0]!.results[0]!.errorCode = 'NOPE'),
      (s) => (s.sessions[0]!.results[1]!.seq = s.sessions[0]!.results[0]!.seq),
      (s) => (s.config!.chunkSizeBytes = '1000'),
    ];
    for (const [i, tamper] of tampered.entries()) {
      const copy = structuredClone(good);
      tamper(copy);
      const bytes = codec.encode(copy as MasterSnapshot);
      expect(() => MasterStateMachine.restore(bytes), `tampering #${i}`).to.throw().with.property('code', 'INVALID_ARGUMENT');
    }
    expect(MasterStateMachine.restore(codec.encode(good as MasterSnapshot)).snapshot().equals(sm.snapshot())).to.equal(true);
  });
});

describe('master state machine: bad entries', () => {
  it('undecodable bytes are INVALID_ARGUMENT', () => {
    const sm = new MasterStateMachine();
    expectError(sm.applyEncoded(Buffer.from([0xff, 0xff, 0xff])), 'INVALID_ARGUMENT');
  });

  it('an entry without an operation, or naming one it does not carry, is INVALID_ARGUMENT', () => {
    const sm = new MasterStateMachine();
    sm.applyEncoded(encodeEntry(entries.initCluster(1, undefined, { chunkSizeBytes: CHUNK, defaultReplication: 1, clusterId: 'x' })));
    const before = sm.snapshot();
    expectError(sm.applyEncoded(encodeEntry({ timeUs: 5 })), 'INVALID_ARGUMENT');
    const entry = decodeEntry(encodeEntry(entries.mkdir(2, undefined, { path: '/a' })));
    expectError(sm.apply({ ...entry, mkdir: null }), 'INVALID_ARGUMENT');
    expectError(sm.apply({ ...entry, op: 'bogus' as never }), 'INVALID_ARGUMENT');
    expectError(sm.apply({ ...entry, mkdir: { ...entry.mkdir!, mode: -1 } }), 'INVALID_ARGUMENT');
    expectError(sm.apply({ ...entry, mkdir: { ...entry.mkdir!, path: 7 as never } }), 'INVALID_ARGUMENT');
    expect(sm.snapshot().equals(before)).to.equal(true);
  });

  it('an entry time that is not a safe integer is INVALID_ARGUMENT', () => {
    const sm = new MasterStateMachine();
    expectError(sm.applyEncoded(encodeEntry(entries.noop('9223372036854775807'))), 'INVALID_ARGUMENT');
    expect(sm.stat('/').inode).to.equal(ROOT_INODE);
  });
});

describe('ascending rows', () => {
  it('finds live ids by binary search, forgets removed ones, and compacts once a quarter is dead', () => {
    const column: number[] = [];
    let resizes = 0;
    const rows = new AscendingRows(
      4,
      () => resizes++,
      (from, to) => (column[to] = column[from]!),
    );
    for (let id = 10; id < 110; id += 10) column[rows.append(id)] = id * 2;
    expect(resizes).to.be.greaterThan(0);
    expect(rows.find(50)).to.equal(4);
    expect(rows.find(55)).to.equal(-1);
    expect(rows.find(0)).to.equal(-1);
    expect(() => rows.append(100)).to.throw(/ascend/);
    rows.remove(rows.find(50));
    expect(rows.find(50)).to.equal(-1);
    expect(rows.compact()).to.equal(false);
    rows.remove(rows.find(10));
    rows.remove(rows.find(20));
    expect(rows.compact()).to.equal(true);
    expect(rows.live).to.equal(7);
    for (const id of [30, 40, 60, 70, 80, 90, 100]) expect(column[rows.find(id)]).to.equal(id * 2);
    expect(rows.append(110)).to.equal(7);
  });
});
