import { expect } from 'chai';

import { ROOT_INODE } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { entries } from '../../../master/log-entry.js';
import { MasterStateMachine } from '../../../master/state-machine.js';
import { attrOf, CHUNK, chunkOf, Harness, ok, valueOf } from './harness.js';

const FILE_MAX = LIMITS.chunksPerFileMax * CHUNK;

describe('master state machine: Truncate', () => {
  it('a missing inode is NOT_FOUND; a directory is IS_A_DIRECTORY; past the size limit is TOO_LARGE', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    h.fails('NOT_FOUND', () => h.truncate(999, 0));
    h.fails('NOT_FOUND', () => h.truncate(0, 0));
    h.fails('NOT_FOUND', () => h.truncate('99999999999999999999' as never, 0));
    h.fails('IS_A_DIRECTORY', () => h.truncate(ROOT_INODE, 0));
    h.fails('TOO_LARGE', () => h.truncate(inode, FILE_MAX + 1));
    h.fails('TOO_LARGE', () => h.truncate(inode, '18446744073709551615'));
    expect(attrOf(h.truncate(inode, FILE_MAX)).size).to.equal(FILE_MAX);
  });

  it('shrinking releases every chunk at or past ceil(size / chunkSize) and keeps the rest', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const handles = [0, 1, 2, 3].map((i) => chunkOf(h.allocate(inode, i)).handle);
    ok(h.commit(inode, 4 * CHUNK));
    const t = h.time;
    const attr = attrOf(h.truncate(inode, CHUNK + 1));
    expect(attr).to.include({ size: CHUNK + 1, chunkCount: 2, mtimeUs: t, ctimeUs: t });
    expect(h.sm.chunk(handles[1]!)).to.not.equal(undefined);
    expect(h.sm.chunk(handles[2]!)).to.equal(undefined);
    expect(h.sm.chunk(handles[3]!)).to.equal(undefined);
    expect(h.sm.counts().chunks).to.equal(2);
    ok(h.truncate(inode, 0));
    expect(h.sm.counts().chunks).to.equal(0);
    expect(h.sm.statInode(inode).chunkCount).to.equal(0);
  });

  it('a chunk list never ends with a hole after a shrink', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    ok(h.allocate(inode, 0));
    ok(h.allocate(inode, 3));
    expect(attrOf(h.truncate(inode, 2 * CHUNK)).chunkCount).to.equal(1);
  });

  it('growing leaves holes: no chunk is allocated, the size and times change', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    ok(h.allocate(inode, 0));
    const t = h.time;
    expect(attrOf(h.truncate(inode, 10 * CHUNK))).to.include({ size: 10 * CHUNK, chunkCount: 1, mtimeUs: t, ctimeUs: t });
    expect(h.sm.counts().chunks).to.equal(1);
  });

  it('works on a file in the trash, as on an unlinked file that is still open', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    ok(h.allocate(inode, 0));
    ok(h.delete('/f'));
    expect(attrOf(h.truncate(inode, 0)).size).to.equal(0);
    expect(h.sm.counts().chunks).to.equal(0);
  });
});

describe('master state machine: AllocateChunk', () => {
  it('a missing inode is NOT_FOUND; a directory IS_A_DIRECTORY; an index past LIMITS.chunksPerFileMax TOO_LARGE', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    h.fails('NOT_FOUND', () => h.allocate(12345, 0));
    h.fails('IS_A_DIRECTORY', () => h.allocate(ROOT_INODE, 0));
    h.fails('TOO_LARGE', () => h.allocate(inode, LIMITS.chunksPerFileMax));
    h.fails('TOO_LARGE', () => h.allocate(inode, '18446744073709551615' as never));
  });

  it('allocates a new handle at version 0 with one reference, owner and index recorded, size unchanged', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const before = h.sm.stat('/f');
    const value = valueOf(h.allocate(inode, 0));
    expect(value.kind).to.equal('chunk');
    if (value.kind !== 'chunk') return;
    expect(value.chunk).to.deep.equal({ index: 0, handle: 1, version: 0 });
    expect(value.attr).to.deep.equal({ ...before, chunkCount: 1 });
    expect(h.sm.chunk(value.chunk.handle)).to.deep.equal({ version: 0, confirmedVersion: 0, refCount: 1, inode, index: 0 });
  });

  it('is idempotent: an existing chunk at the index comes back and nothing changes', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const first = chunkOf(h.allocate(inode, 2));
    expect(chunkOf(h.unchanged(() => h.allocate(inode, 2)))).to.deep.equal(first);
  });

  it('leaves holes between the old end and the index, and fills a hole later', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const c5 = chunkOf(h.allocate(inode, 5));
    expect(h.sm.statInode(inode).chunkCount).to.equal(6);
    expect(h.sm.getChunks(inode, 0, 0).chunks).to.deep.equal([c5]);
    const c2 = chunkOf(h.allocate(inode, 2));
    expect(h.sm.getChunks(inode, 0, 0).chunks).to.deep.equal([c2, c5]);
    expect(h.sm.chunk(c2.handle)?.index).to.equal(2);
  });

  it('allocates the last index a file may have', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    const inode = h.file('/f');
    const last = chunkOf(h.allocate(inode, LIMITS.chunksPerFileMax - 1));
    expect(h.sm.statInode(inode).chunkCount).to.equal(LIMITS.chunksPerFileMax);
    expect(h.sm.getChunks(inode, LIMITS.chunksPerFileMax - 1, 1).chunks).to.deep.equal([last]);
    const restored = MasterStateMachine.restore(h.sm.snapshot());
    expect(restored.getChunks(inode, LIMITS.chunksPerFileMax - 1, 5).chunks).to.deep.equal([last]);
  });

  it('handles long chunk lists (amortized growth past the exact-size ones)', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    const inode = h.file('/f');
    for (let i = 0; i < 200; i++) ok(h.allocate(inode, i));
    ok(h.allocate(inode, 1000));
    expect(h.sm.statInode(inode).chunkCount).to.equal(1001);
    expect(h.sm.getChunks(inode, 0, 0).chunks.length).to.equal(200); // a page is LIMITS.chunksPageMax slots
    expect(h.sm.getChunks(inode, 1000, 1).chunks.map((c) => c.index)).to.deep.equal([1000]);
  });
});

describe('master state machine: CommitWrite', () => {
  it('raises the size to the end offset, never lowers it, and sets mtime and ctime', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    let t = h.time;
    expect(attrOf(h.commit(inode, 1000))).to.include({ size: 1000, mtimeUs: t, ctimeUs: t });
    t = h.time;
    expect(attrOf(h.commit(inode, 10))).to.include({ size: 1000, mtimeUs: t, ctimeUs: t });
  });

  it('past the file size limit is TOO_LARGE; a directory IS_A_DIRECTORY; a missing inode NOT_FOUND', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    h.fails('TOO_LARGE', () => h.commit(inode, FILE_MAX + 1));
    h.fails('TOO_LARGE', () => h.commit(inode, '18446744073709551615'));
    h.fails('IS_A_DIRECTORY', () => h.commit(ROOT_INODE, 1));
    h.fails('NOT_FOUND', () => h.commit(77, 1));
    expect(attrOf(h.commit(inode, FILE_MAX)).size).to.equal(FILE_MAX);
  });
});

describe('master state machine: BumpVersion and ConfirmVersion', () => {
  it('BumpVersion: an unknown handle is NOT_FOUND; a version not above the current one STALE_VERSION; otherwise it is set', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const { handle } = chunkOf(h.allocate(inode, 0));
    h.fails('NOT_FOUND', () => h.bump(handle + 1, 1));
    h.fails('STALE_VERSION', () => h.bump(handle, 0));
    expect(valueOf(h.bump(handle, 3))).to.deep.equal({ kind: 'version', handle, version: 3 });
    h.fails('STALE_VERSION', () => h.bump(handle, 3));
    h.fails('STALE_VERSION', () => h.bump(handle, 2));
    h.fails('INVALID_ARGUMENT', () => h.bump(handle, '18446744073709551615'));
    expect(h.sm.chunk(handle)?.version).to.equal(3);
    expect(h.sm.getChunks(inode, 0, 1).chunks[0]?.version).to.equal(3);
  });

  it('ConfirmVersion: at most the current version, never below the confirmed one; equal is a no-op success', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const { handle } = chunkOf(h.allocate(inode, 0));
    const confirm = (version: number) => h.apply((t) => entries.confirmVersion(t, undefined, { handle, version }));
    h.fails('NOT_FOUND', () => h.apply((t) => entries.confirmVersion(t, undefined, { handle: 99, version: 1 })));
    ok(h.bump(handle, 2));
    h.fails('INVALID_ARGUMENT', () => confirm(3));
    expect(valueOf(confirm(2))).to.deep.equal({ kind: 'version', handle, version: 2 });
    expect(h.sm.chunk(handle)).to.include({ version: 2, confirmedVersion: 2 });
    h.unchanged(() => confirm(2));
    h.fails('STALE_VERSION', () => confirm(1));
    ok(h.bump(handle, 3));
    expect(h.sm.chunk(handle)).to.include({ version: 3, confirmedVersion: 2 });
  });
});

describe('master state machine: PurgeTrash', () => {
  it('destroys the trash entries deleted before the time: their inodes vanish and their chunks are released', () => {
    const h = new Harness().init();
    h.dir('/d/e');
    const f1 = h.file('/d/e/f1');
    const f2 = h.file('/d/f2');
    const kept = h.file('/kept');
    const handles = [chunkOf(h.allocate(f1, 0)).handle, chunkOf(h.allocate(f1, 1)).handle, chunkOf(h.allocate(f2, 3)).handle];
    const keptHandle = chunkOf(h.allocate(kept, 0)).handle;
    ok(h.delete('/d', true));
    const deletedAt = h.time - 1;
    ok(h.delete('/kept'));
    const result = valueOf(h.purge(deletedAt + 1));
    expect(result).to.deep.equal({ kind: 'purged', inodes: 4, chunks: 3, sessions: 0 });
    for (const inode of [f1, f2]) expect(() => h.sm.statInode(inode)).to.throw().with.property('code', 'NOT_FOUND');
    for (const handle of handles) expect(h.sm.chunk(handle)).to.equal(undefined);
    expect(h.sm.chunk(keptHandle)).to.not.equal(undefined);
    expect(h.sm.counts()).to.deep.equal({ files: 1, directories: 1, chunks: 1, trash: 1, sessions: 0 });
  });

  it('keeps entries deleted at or after the time', () => {
    const h = new Harness().init();
    h.file('/f');
    const deletedAt = h.time;
    ok(h.delete('/f'));
    expect(valueOf(h.purge(deletedAt))).to.deep.equal({ kind: 'purged', inodes: 0, chunks: 0, sessions: 0 });
    expect(h.sm.counts().trash).to.equal(1);
  });

  it('purges inodes replaced by rename', () => {
    const h = new Harness().init();
    h.file('/a');
    const b = h.file('/b');
    const handle = chunkOf(h.allocate(b, 0)).handle;
    ok(h.rename('/a', '/b'));
    expect(valueOf(h.purge(h.time))).to.deep.equal({ kind: 'purged', inodes: 1, chunks: 1, sessions: 0 });
    expect(h.sm.chunk(handle)).to.equal(undefined);
  });

  it('forgets the client sessions idle since before the second time', () => {
    const h = new Harness().init();
    ok(h.create('/a', {}, { clientId: 'old', seq: 1 }));
    const cut = h.time;
    ok(h.create('/b', {}, { clientId: 'new', seq: 1 }));
    expect(h.sm.counts().sessions).to.equal(2);
    expect(valueOf(h.purge(0, cut))).to.deep.equal({ kind: 'purged', inodes: 0, chunks: 0, sessions: 1 });
    expect(h.sm.counts().sessions).to.equal(1);
  });

  it('times that are not safe integers are INVALID_ARGUMENT', () => {
    const h = new Harness().init();
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.purgeTrash(t, undefined, { deletedBeforeUs: '9223372036854775807' })));
  });

  it('many deletions and purges keep the tables consistent as they compact', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    const inodes: number[] = [];
    for (let i = 0; i < 300; i++) {
      const inode = h.file(`/f${i}`);
      inodes.push(inode);
      ok(h.allocate(inode, 0));
    }
    for (let i = 0; i < 300; i += 3) ok(h.delete(`/f${i}`));
    ok(h.purge(h.time));
    for (let i = 1; i < 300; i += 3) ok(h.delete(`/f${i}`));
    ok(h.purge(h.time));
    expect(h.sm.counts()).to.include({ files: 100, chunks: 100, trash: 0 });
    for (let i = 2; i < 300; i += 3) expect(h.sm.stat(`/f${i}`).inode).to.equal(inodes[i]);
    expect(h.file('/new')).to.equal(302);
  });
});
