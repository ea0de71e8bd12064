import { expect } from 'chai';

import { ROOT_INODE } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { decodeEntry, encodeEntry, entries } from '../../../master/log-entry.js';
import { MasterStateMachine } from '../../../master/state-machine.js';
import { messageCodec } from '../../../proto/load.js';
import type { MasterSnapshot, MasterSnapshot__Output } from '../../../proto/generated/dfs/masterlog/MasterSnapshot.js';
import { attrOf, CHUNK, chunkOf, expectError, Harness, ok, T0, valueOf } from './harness.js';

describe('master state machine: cluster and root', () => {
  it('starts with root inode 1: a directory, 0o755, uid/gid 0, nlink 2, uninitialized', () => {
    const sm = new MasterStateMachine();
    const root = sm.stat('/');
    expect(root).to.include({ inode: ROOT_INODE, kind: 'directory', mode: 0o755, uid: 0, gid: 0, nlink: 2, size: 0 });
    expect(sm.statInode(ROOT_INODE)).to.deep.equal(root);
    expect(sm.config()).to.deep.equal({ initialized: false, chunkSizeBytes: 0, defaultReplication: 0, clusterId: '' });
    expect(sm.counts()).to.deep.equal({ files: 0, directories: 1, chunks: 0, trash: 0, sessions: 0 });
    sm.checkInvariants();
  });

  it('the first InitCluster sets the config and stamps the root with the entry time', () => {
    const h = new Harness();
    const result = h.apply((t) => entries.initCluster(t, undefined, { chunkSizeBytes: 1 << 20, defaultReplication: 2, clusterId: 'c1' }));
    const root = attrOf(result);
    expect(root.inode).to.equal(ROOT_INODE);
    expect(root).to.include({ atimeUs: T0, mtimeUs: T0, ctimeUs: T0 });
    expect(h.sm.config()).to.deep.equal({ initialized: true, chunkSizeBytes: 1 << 20, defaultReplication: 2, clusterId: 'c1' });
  });

  it('InitCluster accepts chunk sizes that are powers of two from 64 KiB to 1 GiB, and nothing else', () => {
    for (const size of [64 * 1024, 1 << 30]) new Harness().init(size);
    for (const size of [0, 32 * 1024, 64 * 1024 + 1, 3 * 64 * 1024, 2 ** 31, '18446744073709551615']) {
      const h = new Harness();
      h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.initCluster(t, undefined, { chunkSizeBytes: size, defaultReplication: 3, clusterId: 'c' })));
      expect(h.sm.config().initialized).to.equal(false);
    }
  });

  it('InitCluster takes a default replication from 1 to LIMITS.replicationMax', () => {
    new Harness().init(CHUNK, 1);
    new Harness().init(CHUNK, LIMITS.replicationMax);
    for (const replication of [0, LIMITS.replicationMax + 1]) {
      const h = new Harness();
      h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.initCluster(t, undefined, { chunkSizeBytes: CHUNK, defaultReplication: replication, clusterId: 'c' })));
    }
  });

  it('a later InitCluster is a no-op that returns the root, whatever it carries', () => {
    const h = new Harness().init();
    h.dir('/a');
    const root = h.sm.stat('/');
    for (const op of [{ chunkSizeBytes: 1 << 20, defaultReplication: 5, clusterId: 'other' }, { chunkSizeBytes: 3, defaultReplication: 0, clusterId: '' }]) {
      const result = h.unchanged(() => h.apply((t) => entries.initCluster(t, undefined, op)));
      expect(attrOf(result)).to.deep.equal(root);
    }
    expect(h.sm.config().clusterId).to.equal('test');
  });

  it('every operation but InitCluster and Noop fails with UNAVAILABLE before InitCluster', () => {
    const h = new Harness();
    const ops = [
      (t: number) => entries.mkdir(t, undefined, { path: '/a' }),
      (t: number) => entries.create(t, undefined, { path: '/f' }),
      (t: number) => entries.delete(t, undefined, { path: '/a' }),
      (t: number) => entries.rename(t, undefined, { source: '/a', destination: '/b' }),
      (t: number) => entries.setAttr(t, undefined, { path: '/', mode: 0o700 }),
      (t: number) => entries.truncate(t, undefined, { inode: 1, size: 0 }),
      (t: number) => entries.allocateChunk(t, undefined, { inode: 1, index: 0 }),
      (t: number) => entries.commitWrite(t, undefined, { inode: 1, endOffset: 0 }),
      (t: number) => entries.bumpVersion(t, undefined, { handle: 1, version: 1 }),
      (t: number) => entries.confirmVersion(t, undefined, { handle: 1, version: 1 }),
      (t: number) => entries.purgeTrash(t, undefined, { deletedBeforeUs: 1 }),
    ];
    for (const op of ops) {
      const result = h.fails('UNAVAILABLE', () => h.apply(op));
      expect(result.ok ? '' : result.error.message).to.equal('cluster not initialized');
    }
    expect(valueOf(h.unchanged(() => h.apply((t) => entries.noop(t))))).to.deep.equal({ kind: 'none' });
  });

  it('inode and chunk handle counters start at 2 and 1 and never reuse a value', () => {
    const h = new Harness().init();
    const a = h.file('/a');
    expect(a).to.equal(2);
    expect(chunkOf(h.allocate(a, 0)).handle).to.equal(1);
    ok(h.delete('/a'));
    ok(h.purge(h.time));
    expect(h.file('/b')).to.equal(3);
    expect(chunkOf(h.allocate(3, 0)).handle).to.equal(2);
  });

  it('rejects malformed paths with INVALID_ARGUMENT or NAME_TOO_LONG and changes nothing', () => {
    const h = new Harness().init();
    h.dir('/a');
    const invalid = ['', 'a', 'a/b', '/a/', '//a', '/a//b', '/a/./b', '/a/../b', '/.', '/..', '/a\0b'];
    for (const path of invalid) {
      h.fails('INVALID_ARGUMENT', () => h.mkdir(path));
      h.fails('INVALID_ARGUMENT', () => h.create(path));
    }
    const long = 'n'.repeat(LIMITS.nameMaxBytes + 1);
    h.fails('NAME_TOO_LONG', () => h.mkdir(`/${long}`));
    h.fails('NAME_TOO_LONG', () => h.create(`/a/${long}`));
    h.fails('NAME_TOO_LONG', () => h.create(`/${'é'.repeat(128)}`)); // 256 bytes in UTF-8
    h.fails('NAME_TOO_LONG', () => h.create('/' + Array.from({ length: 30 }, () => 'p'.repeat(200)).join('/')));
    ok(h.create(`/${'n'.repeat(LIMITS.nameMaxBytes)}`));
    ok(h.create('/\ud83d\ude00')); // a surrogate pair is one well-formed character
  });

  it('rejects paths with lone surrogates given to apply() directly (the wire cannot carry them)', () => {
    const h = new Harness().init();
    for (const path of ['/\ud800x', '/x\udfff']) {
      const entry = decodeEntry(encodeEntry(entries.mkdir(h.time++, undefined, { path: '/placeholder' })));
      const before = h.sm.snapshot();
      expectError(h.sm.apply({ ...entry, mkdir: { ...entry.mkdir!, path } }), 'INVALID_ARGUMENT');
      expect(h.sm.snapshot().equals(before)).to.equal(true);
    }
  });
});

describe('master state machine: Mkdir', () => {
  it('creates a directory with permission bits, owner and the entry time, nlink 2; the parent gains a link and new times', () => {
    const h = new Harness().init();
    const before = h.sm.stat('/');
    const t = h.time;
    const dir = attrOf(h.mkdir('/a', { mode: 0o40777, uid: 7, gid: 8 }));
    expect(dir).to.include({ kind: 'directory', mode: 0o777, uid: 7, gid: 8, nlink: 2, size: 0, atimeUs: t, mtimeUs: t, ctimeUs: t });
    const root = h.sm.stat('/');
    expect(root.nlink).to.equal(before.nlink + 1);
    expect(root).to.include({ mtimeUs: t, ctimeUs: t, atimeUs: before.atimeUs });
  });

  it('fails with NOT_FOUND when the parent is missing', () => {
    const h = new Harness().init();
    h.fails('NOT_FOUND', () => h.mkdir('/a/b'));
  });

  it('with parents, creates every missing ancestor with the same mode, uid and gid', () => {
    const h = new Harness().init();
    h.dir('/a');
    const leaf = attrOf(h.mkdir('/a/b/c/d', { parents: true, mode: 0o711, uid: 3, gid: 4 }));
    for (const path of ['/a/b', '/a/b/c', '/a/b/c/d']) expect(h.sm.stat(path)).to.include({ kind: 'directory', mode: 0o711, uid: 3, gid: 4 });
    expect(h.sm.stat('/a/b/c/d')).to.deep.equal(leaf);
    expect(h.sm.stat('/a').nlink).to.equal(3);
    expect(h.sm.stat('/a/b/c/d').nlink).to.equal(2);
  });

  it('fails with NOT_A_DIRECTORY when a parent component is a file, with or without parents', () => {
    const h = new Harness().init();
    h.file('/f');
    h.fails('NOT_A_DIRECTORY', () => h.mkdir('/f/x'));
    h.fails('NOT_A_DIRECTORY', () => h.mkdir('/f/x/y', { parents: true }));
  });

  it('fails with ALREADY_EXISTS when the path exists, file or directory', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.file('/f');
    h.fails('ALREADY_EXISTS', () => h.mkdir('/d'));
    h.fails('ALREADY_EXISTS', () => h.mkdir('/f'));
  });

  it('with parents, an existing directory is a success that returns it unchanged; an existing file is ALREADY_EXISTS', () => {
    const h = new Harness().init();
    h.dir('/d/e');
    const existing = h.sm.stat('/d/e');
    expect(attrOf(h.unchanged(() => h.mkdir('/d/e', { parents: true, mode: 0o700 })))).to.deep.equal(existing);
    h.file('/d/f');
    h.fails('ALREADY_EXISTS', () => h.mkdir('/d/f', { parents: true }));
  });

  it('"/" is ALREADY_EXISTS, or the root with parents', () => {
    const h = new Harness().init();
    h.fails('ALREADY_EXISTS', () => h.mkdir('/'));
    expect(attrOf(h.unchanged(() => h.mkdir('/', { parents: true }))).inode).to.equal(ROOT_INODE);
  });
});

describe('master state machine: Create', () => {
  it('creates an empty file: size 0, nlink 1, no chunks, the entry time, the default replication for 0', () => {
    const h = new Harness().init(CHUNK, 3);
    h.dir('/d');
    const rootLinks = h.sm.stat('/d').nlink;
    const t = h.time;
    const file = attrOf(h.create('/d/f', { mode: 0o100640, uid: 5, gid: 6 }));
    expect(file).to.include({ kind: 'file', mode: 0o640, uid: 5, gid: 6, size: 0, nlink: 1, chunkCount: 0, replication: 3, replicateAll: false });
    expect(file).to.include({ atimeUs: t, mtimeUs: t, ctimeUs: t });
    expect(h.sm.stat('/d')).to.include({ nlink: rootLinks, mtimeUs: t, ctimeUs: t });
  });

  it('takes an explicit replication up to LIMITS.replicationMax, and replicateAll', () => {
    const h = new Harness().init();
    expect(attrOf(h.create('/a', { replication: 1 }))).to.include({ replication: 1, replicateAll: false });
    expect(attrOf(h.create('/b', { replication: LIMITS.replicationMax, replicateAll: true }))).to.include({
      replication: LIMITS.replicationMax,
      replicateAll: true,
    });
  });

  it('fails with INVALID_ARGUMENT for a replication above LIMITS.replicationMax', () => {
    const h = new Harness().init();
    h.fails('INVALID_ARGUMENT', () => h.create('/a', { replication: LIMITS.replicationMax + 1 }));
  });

  it('exclusive on an existing entry is ALREADY_EXISTS, file or directory', () => {
    const h = new Harness().init();
    h.file('/f');
    h.dir('/d');
    h.fails('ALREADY_EXISTS', () => h.create('/f', { exclusive: true }));
    h.fails('ALREADY_EXISTS', () => h.create('/d', { exclusive: true }));
    h.fails('ALREADY_EXISTS', () => h.create('/', { exclusive: true }));
  });

  it('an existing directory is IS_A_DIRECTORY', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.fails('IS_A_DIRECTORY', () => h.create('/d'));
    h.fails('IS_A_DIRECTORY', () => h.create('/'));
  });

  it('an existing file without exclusive is opened: the success returns it unchanged', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    ok(h.commit(inode, 100));
    const existing = h.sm.stat('/f');
    const opened = attrOf(h.unchanged(() => h.create('/f', { mode: 0o600, uid: 9, replication: 1 })));
    expect(opened).to.deep.equal(existing);
  });

  it('a missing parent is NOT_FOUND; a parent that is a file is NOT_A_DIRECTORY', () => {
    const h = new Harness().init();
    h.file('/f');
    h.fails('NOT_FOUND', () => h.create('/nope/f'));
    h.fails('NOT_A_DIRECTORY', () => h.create('/f/g'));
  });
});

describe('master state machine: Delete', () => {
  it('refuses "/" with INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.fails('INVALID_ARGUMENT', () => h.delete('/'));
    h.fails('INVALID_ARGUMENT', () => h.delete('/', true));
  });

  it('a missing entry or parent is NOT_FOUND', () => {
    const h = new Harness().init();
    h.fails('NOT_FOUND', () => h.delete('/a'));
    h.fails('NOT_FOUND', () => h.delete('/a/b'));
  });

  it('a non-empty directory without recursive is NOT_EMPTY', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.file('/d/f');
    h.fails('NOT_EMPTY', () => h.delete('/d'));
  });

  it('moves a file to the trash: gone from its path, still reachable by inode, chunks still referenced, parent times updated', () => {
    const h = new Harness().init();
    h.dir('/d');
    const inode = h.file('/d/f');
    const handle = chunkOf(h.allocate(inode, 0)).handle;
    const t = h.time;
    expect(valueOf(h.delete('/d/f'))).to.deep.equal({ kind: 'none' });
    expect(() => h.sm.stat('/d/f')).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.statInode(inode).inode).to.equal(inode);
    expect(h.sm.chunk(handle)).to.include({ refCount: 1, inode, index: 0 });
    expect(h.sm.stat('/d')).to.include({ mtimeUs: t, ctimeUs: t, nlink: 2 });
    expect(h.sm.counts()).to.include({ files: 1, trash: 1, chunks: 1 });
  });

  it('records each trash entry with its original path and the entry time', () => {
    const h = new Harness().init();
    const d = h.dir('/d/e');
    const f = h.file('/f');
    const first = h.time;
    ok(h.delete('/d', true));
    const second = h.time;
    ok(h.delete('/f'));
    const snapshot = messageCodec<MasterSnapshot, MasterSnapshot__Output>('dfs.masterlog.MasterSnapshot').decode(h.sm.snapshot());
    expect(snapshot.trash).to.deep.equal([
      { inode: String(d - 1), originalPath: '/d', deletedAtUs: String(first) },
      { inode: String(f), originalPath: '/f', deletedAtUs: String(second) },
    ]);
  });

  it('an empty directory goes without recursive and its parent loses a link', () => {
    const h = new Harness().init();
    h.dir('/d');
    expect(h.sm.stat('/').nlink).to.equal(3);
    ok(h.delete('/d'));
    expect(h.sm.stat('/').nlink).to.equal(2);
  });

  it('recursive moves the whole subtree to the trash as one entry', () => {
    const h = new Harness().init();
    h.dir('/d/e/f');
    h.file('/d/e/x');
    h.file('/d/y');
    ok(h.delete('/d', true));
    expect(h.sm.list('/', '', 0).entries).to.deep.equal([]);
    expect(h.sm.counts()).to.include({ files: 2, directories: 4, trash: 1 });
  });
});

describe('master state machine: Rename', () => {
  it('a missing source is NOT_FOUND', () => {
    const h = new Harness().init();
    h.fails('NOT_FOUND', () => h.rename('/a', '/b'));
  });

  it('a missing destination parent is NOT_FOUND; one that is a file is NOT_A_DIRECTORY', () => {
    const h = new Harness().init();
    h.file('/a');
    h.file('/f');
    h.fails('NOT_FOUND', () => h.rename('/a', '/nope/b'));
    h.fails('NOT_A_DIRECTORY', () => h.rename('/a', '/f/b'));
  });

  it('source == destination succeeds and changes nothing; with noReplace it is ALREADY_EXISTS, as Linux', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.file('/d/f');
    h.unchanged(() => h.rename('/d/f', '/d/f'));
    h.unchanged(() => h.rename('/d', '/d'));
    h.fails('ALREADY_EXISTS', () => h.rename('/d', '/d', true));
  });

  it('moving a directory into itself or its own subtree is INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.dir('/a/b/c');
    h.fails('INVALID_ARGUMENT', () => h.rename('/a', '/a/x'));
    h.fails('INVALID_ARGUMENT', () => h.rename('/a', '/a/b/c/x'));
    h.fails('INVALID_ARGUMENT', () => h.rename('/a/b', '/a/b/c'));
  });

  it('renaming "/" or onto "/" is INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.dir('/a');
    h.fails('INVALID_ARGUMENT', () => h.rename('/', '/b'));
    h.fails('INVALID_ARGUMENT', () => h.rename('/a', '/'));
  });

  it('an existing destination with noReplace is ALREADY_EXISTS', () => {
    const h = new Harness().init();
    h.file('/a');
    h.file('/b');
    h.fails('ALREADY_EXISTS', () => h.rename('/a', '/b', true));
  });

  it('a directory over a file is NOT_A_DIRECTORY; a file over a directory is IS_A_DIRECTORY', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.file('/f');
    h.fails('NOT_A_DIRECTORY', () => h.rename('/d', '/f'));
    h.fails('IS_A_DIRECTORY', () => h.rename('/f', '/d'));
  });

  it('a directory over a non-empty directory is NOT_EMPTY, also onto its own ancestor', () => {
    const h = new Harness().init();
    h.dir('/a');
    h.file('/a/x');
    h.dir('/c');
    h.fails('NOT_EMPTY', () => h.rename('/c', '/a'));
    h.dir('/p/q');
    h.fails('NOT_EMPTY', () => h.rename('/p/q', '/p'));
  });

  it('a file over a file replaces it atomically: the replaced inode goes to the trash with its chunks', () => {
    const h = new Harness().init();
    const a = h.file('/a');
    const b = h.file('/b');
    const handle = chunkOf(h.allocate(b, 0)).handle;
    expect(valueOf(h.rename('/a', '/b'))).to.deep.equal({ kind: 'none' });
    expect(h.sm.stat('/b').inode).to.equal(a);
    expect(() => h.sm.stat('/a')).to.throw().with.property('code', 'NOT_FOUND');
    expect(h.sm.counts()).to.include({ trash: 1, files: 2 });
    expect(h.sm.statInode(b).inode).to.equal(b);
    expect(h.sm.chunk(handle)?.inode).to.equal(b);
  });

  it('a directory over an empty directory replaces it, the replaced one goes to the trash', () => {
    const h = new Harness().init();
    h.dir('/a/x');
    const emptyTarget = h.dir('/b');
    ok(h.rename('/a', '/b'));
    expect(h.sm.stat('/b/x').kind).to.equal('directory');
    expect(h.sm.stat('/').nlink).to.equal(3);
    expect(h.sm.statInode(emptyTarget).kind).to.equal('directory');
    expect(h.sm.counts().trash).to.equal(1);
  });

  it('moving a directory updates both parents: nlink, mtime and ctime; and the moved inode ctime', () => {
    const h = new Harness().init();
    h.dir('/from/d');
    h.dir('/to');
    const moved = h.sm.stat('/from/d');
    const t = h.time;
    ok(h.rename('/from/d', '/to/e'));
    expect(h.sm.stat('/from')).to.include({ nlink: 2, mtimeUs: t, ctimeUs: t });
    expect(h.sm.stat('/to')).to.include({ nlink: 3, mtimeUs: t, ctimeUs: t });
    expect(h.sm.stat('/to/e')).to.include({ inode: moved.inode, ctimeUs: t, mtimeUs: moved.mtimeUs });
  });

  it('renames within one directory', () => {
    const h = new Harness().init();
    const inode = h.file('/a');
    ok(h.rename('/a', '/b'));
    expect(h.sm.list('/', '', 0).entries.map((e) => [e.name, e.attr.inode])).to.deep.equal([['b', inode]]);
  });
});

describe('master state machine: SetAttr', () => {
  it('changes only the fields present: a decoded entry leaves absent optional fields undefined', () => {
    const h = new Harness().init();
    h.create('/f', { mode: 0o644, uid: 1, gid: 2, replication: 2 });
    const before = h.sm.stat('/f');
    const decoded = decodeEntry(encodeEntry(entries.setAttr(0, undefined, { path: '/f', mode: 0o600 })));
    expect(decoded.setAttr?.mode).to.equal(0o600);
    for (const field of ['uid', 'gid', 'atimeUs', 'mtimeUs', 'replication', 'replicateAll'] as const) {
      expect(decoded.setAttr?.[field], field).to.equal(undefined);
    }
    const t = h.time;
    const after = attrOf(h.apply((time) => entries.setAttr(time, undefined, { path: '/f', mode: 0o600 })));
    expect(after).to.deep.equal({ ...before, mode: 0o600, ctimeUs: t });
  });

  it('a present zero is a change, not an absence', () => {
    const h = new Harness().init();
    h.create('/f', { mode: 0o644, uid: 1, gid: 2 });
    const after = attrOf(h.apply((t) => entries.setAttr(t, undefined, { path: '/f', mode: 0, uid: 0, gid: 0, atimeUs: 0, mtimeUs: 0 })));
    expect(after).to.include({ mode: 0, uid: 0, gid: 0, atimeUs: 0, mtimeUs: 0 });
  });

  it('sets every field, masks mode to permission bits, and sets ctime to the entry time', () => {
    const h = new Harness().init();
    h.file('/f');
    const t = h.time;
    const after = attrOf(
      h.apply((time) =>
        entries.setAttr(time, undefined, { path: '/f', mode: 0o104755, uid: 10, gid: 20, atimeUs: -5, mtimeUs: 123, replication: 5, replicateAll: true }),
      ),
    );
    expect(after).to.include({ mode: 0o4755, uid: 10, gid: 20, atimeUs: -5, mtimeUs: 123, ctimeUs: t, replication: 5, replicateAll: true });
  });

  it('replication 0 means the cluster default; above LIMITS.replicationMax is INVALID_ARGUMENT', () => {
    const h = new Harness().init(CHUNK, 4);
    h.create('/f', { replication: 1 });
    expect(attrOf(h.apply((t) => entries.setAttr(t, undefined, { path: '/f', replication: 0 }))).replication).to.equal(4);
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/f', replication: LIMITS.replicationMax + 1 })));
  });

  it('replication fields on a directory are INVALID_ARGUMENT; its other attributes change', () => {
    const h = new Harness().init();
    h.dir('/d');
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/d', replication: 2 })));
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/d', replicateAll: false })));
    expect(attrOf(h.apply((t) => entries.setAttr(t, undefined, { path: '/', mode: 0o700 }))).mode).to.equal(0o700);
  });

  it('a missing path is NOT_FOUND; times beyond 2^53 are INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.file('/f');
    h.fails('NOT_FOUND', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/g', mode: 0o600 })));
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.setAttr(t, undefined, { path: '/f', mtimeUs: '9223372036854775807' })));
  });
});

describe('master state machine: queries', () => {
  it('list returns names in sorted order, pages with startAfter and limit, and says whether more follow', () => {
    const h = new Harness().init();
    for (const name of ['b', 'a', 'c', 'B', 'aa']) h.file(`/${name}`);
    expect(h.sm.list('/', '', 0).entries.map((e) => e.name)).to.deep.equal(['B', 'a', 'aa', 'b', 'c']);
    const first = h.sm.list('/', '', 2);
    expect(first.entries.map((e) => e.name)).to.deep.equal(['B', 'a']);
    expect(first.hasMore).to.equal(true);
    const second = h.sm.list('/', 'a', 2);
    expect(second.entries.map((e) => e.name)).to.deep.equal(['aa', 'b']);
    const last = h.sm.list('/', 'b', 2);
    expect(last.entries.map((e) => e.name)).to.deep.equal(['c']);
    expect(last.hasMore).to.equal(false);
    expect(h.sm.list('/', 'zz', 0)).to.deep.equal({ entries: [], hasMore: false });
    expect(h.sm.list('/', '', 0).entries[0]!.attr).to.deep.equal(h.sm.stat('/B'));
  });

  it('list reflects changes made between pages', () => {
    const h = new Harness().init();
    h.file('/a');
    h.file('/c');
    expect(h.sm.list('/', '', 1).entries.map((e) => e.name)).to.deep.equal(['a']);
    h.file('/b');
    expect(h.sm.list('/', 'a', 10).entries.map((e) => e.name)).to.deep.equal(['b', 'c']);
  });

  it('list of a file is NOT_A_DIRECTORY, of a missing path NOT_FOUND, with a bad limit INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.file('/f');
    expect(() => h.sm.list('/f', '', 0)).to.throw().with.property('code', 'NOT_A_DIRECTORY');
    expect(() => h.sm.list('/g', '', 0)).to.throw().with.property('code', 'NOT_FOUND');
    expect(() => h.sm.list('/', '', -1)).to.throw().with.property('code', 'INVALID_ARGUMENT');
  });

  it('getChunks returns the chunks of a range, holes omitted; a directory is IS_A_DIRECTORY', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const c0 = chunkOf(h.allocate(inode, 0));
    const c3 = chunkOf(h.allocate(inode, 3));
    expect(h.sm.getChunks(inode, 0, 0).chunks).to.deep.equal([c0, c3]);
    expect(h.sm.getChunks(inode, 1, 2).chunks).to.deep.equal([]);
    expect(h.sm.getChunks(inode, 1, 3).chunks).to.deep.equal([c3]);
    expect(h.sm.getChunks(inode, 0, 0).attr.chunkCount).to.equal(4);
    expect(() => h.sm.getChunks(ROOT_INODE, 0, 0)).to.throw().with.property('code', 'IS_A_DIRECTORY');
    expect(() => h.sm.getChunks(999 as never, 0, 0)).to.throw().with.property('code', 'NOT_FOUND');
  });

  it("chunkGoal follows the owning file's replication; forEachChunk visits every chunk in handle order", () => {
    const h = new Harness().init();
    const a = h.file('/a');
    const b = attrOf(h.create('/b', { replicateAll: true, replication: 2 })).inode;
    const h1 = chunkOf(h.allocate(b, 1)).handle;
    const h2 = chunkOf(h.allocate(a, 0)).handle;
    expect(h.sm.chunkGoal(h1)).to.deep.equal({ replication: 2, all: true });
    expect(h.sm.chunkGoal(h2)).to.deep.equal({ replication: 3, all: false });
    ok(h.apply((t) => entries.setAttr(t, undefined, { path: '/a', replication: 7 })));
    expect(h.sm.chunkGoal(h2)).to.deep.equal({ replication: 7, all: false });
    expect(h.sm.chunkGoal(99 as never)).to.equal(undefined);
    ok(h.bump(h1, 4));
    const seen: [number, number][] = [];
    h.sm.forEachChunk((handle, version) => seen.push([handle, version]));
    expect(seen).to.deep.equal([
      [h1, 4],
      [h2, 0],
    ]);
  });
});
