import { expect } from 'chai';
import { cp, open as openFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHandle, chunkVersion, clientId, type ChunkHandle } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { silentLogger } from '../../../common/logger.js';
import { chunkPath } from '../../../chunkserver/chunk-files.js';
import { ChunkStore, type ChunkStoreOptions } from '../../../chunkserver/chunk-store.js';
import { EMPTY_LINEAGE } from '../../../chunkserver/lineage.js';
import { ChunkModel, expectCode, patternBytes, rng, useTempDir } from './helpers.js';

const B = LIMITS.checksumBlockBytes;
const H = chunkHandle(0x1001);
const V1 = chunkVersion(1);
const V2 = chunkVersion(2);
const C1 = clientId('client-one');

describe('ChunkStore', () => {
  const tmp = useTempDir();
  const open: ChunkStore[] = [];

  const storeDir = (): string => join(tmp.path, 'node');

  async function openStore(dir = storeDir(), options: Partial<ChunkStoreOptions> = {}): Promise<ChunkStore> {
    const store = await ChunkStore.open(dir, { logger: silentLogger, ...options });
    open.push(store);
    return store;
  }

  async function reopen(store: ChunkStore, options: Partial<ChunkStoreOptions> = {}): Promise<ChunkStore> {
    await store.close();
    return openStore(storeDir(), options);
  }

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  async function flipByte(handle: ChunkHandle, offset: number, dir = storeDir()): Promise<void> {
    const file = await openFile(chunkPath(dir, handle), 'r+');
    try {
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, offset);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, offset);
    } finally {
      await file.close();
    }
  }

  describe('create and list', () => {
    it('creates an empty durable replica that list() reports', async () => {
      let store = await openStore();
      await store.create(H, V1);
      expect(store.list()).to.deep.equal([{ handle: H, version: V1, length: 0 }]);
      expect((await stat(chunkPath(storeDir(), H))).size).to.equal(0);
      store = await reopen(store);
      expect(store.list()).to.deep.equal([{ handle: H, version: V1, length: 0 }]);
    });

    it('refuses to create a replica twice with ALREADY_EXISTS', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await expectCode(store.create(H, V2), 'ALREADY_EXISTS');
      expect(store.info(H)?.version).to.equal(V1);
    });

    it('answers NOT_FOUND for operations on an unknown replica', async () => {
      const store = await openStore();
      await expectCode(store.write(H, 0, Buffer.from('x')), 'NOT_FOUND');
      await expectCode(store.read(H, 0, 1), 'NOT_FOUND');
      await expectCode(store.sync(H), 'NOT_FOUND');
      await expectCode(store.delete(H), 'NOT_FOUND');
      await expectCode(() => store.findAppend(H, C1, 1), 'NOT_FOUND');
      expect(store.info(H)).to.equal(undefined);
    });
  });

  describe('writes and reads', () => {
    it('round-trips writes at odd offsets and lengths across block boundaries', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const model = new ChunkModel();
      const writes: Array<[number, number]> = [
        [0, 3],
        [3, B - 1],
        [B - 7, 20],
        [B + 2, 3 * B + 11],
        [5, 70_000],
        [4 * B - 1, 2],
        [2 * B, B],
      ];
      for (const [i, [offset, length]] of writes.entries()) {
        const data = patternBytes(length, i + 1);
        await store.write(H, offset, data);
        model.write(offset, data);
      }
      expect(await store.sync(H)).to.equal(model.length);
      for (const [offset, length] of [[0, model.length], [1, 1], [B - 3, 9], [B + 1, 2 * B + 5], [3 * B, 1_000_000], [model.length - 1, 10]] as const) {
        expect((await store.read(H, offset, length)).equals(model.slice(offset, offset + length)), `[${offset}, +${length})`).to.equal(true);
      }
    });

    it('reads a sparse gap as zeros', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('head'));
      await store.write(H, 3 * B + 17, Buffer.from('tail'));
      expect(await store.sync(H)).to.equal(3 * B + 21);
      const all = await store.read(H, 0, 4 * B);
      expect(all.subarray(0, 4).toString()).to.equal('head');
      expect(all.subarray(4, 3 * B + 17).equals(Buffer.alloc(3 * B + 13))).to.equal(true);
      expect(all.subarray(3 * B + 17).toString()).to.equal('tail');
    });

    it('pads with zeros without writing the file, and refuses a pad below the length', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('record'));
      await store.pad(H, 2 * B + 5);
      await store.write(H, 2 * B + 5, Buffer.from('next'));
      await store.pad(H, 5 * B);
      expect(await store.sync(H)).to.equal(5 * B);
      expect((await stat(chunkPath(storeDir(), H))).size).to.equal(2 * B + 9);
      store = await reopen(store);
      const all = await store.read(H, 0, 5 * B);
      expect(all.length).to.equal(5 * B);
      expect(all.subarray(0, 6).toString()).to.equal('record');
      expect(all.subarray(6, 2 * B + 5).equals(Buffer.alloc(2 * B - 1))).to.equal(true);
      expect(all.subarray(2 * B + 5, 2 * B + 9).toString()).to.equal('next');
      expect(all.subarray(2 * B + 9).equals(Buffer.alloc(3 * B - 9))).to.equal(true);
      await expectCode(store.pad(H, 10), 'INVALID_ARGUMENT');
      expect(store.info(H)?.length).to.equal(5 * B);
    });

    it('truncates to a shorter length inside a block, durably', async () => {
      let store = await openStore();
      await store.create(H, V1);
      const data = patternBytes(3 * B, 7);
      await store.write(H, 0, data);
      await store.sync(H);
      await store.truncate(H, B + 100);
      expect(store.info(H)).to.include({ length: B + 100, durableLength: B + 100 });
      expect((await store.read(H, 0, 3 * B)).equals(data.subarray(0, B + 100))).to.equal(true);
      store = await reopen(store);
      expect(store.info(H)?.durableLength).to.equal(B + 100);
      expect((await stat(chunkPath(storeDir(), H))).size).to.equal(B + 100);
      expect((await store.read(H, 0, 3 * B)).equals(data.subarray(0, B + 100))).to.equal(true);
    });

    it('truncates to a longer length with zeros', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('abc'));
      await store.truncate(H, B + 1);
      await store.sync(H);
      const all = await store.read(H, 0, 2 * B);
      expect(all.length).to.equal(B + 1);
      expect(all.subarray(0, 3).toString()).to.equal('abc');
      expect(all.subarray(3).equals(Buffer.alloc(B - 2))).to.equal(true);
    });

    it('overwrites the middle of a synced replica, partial blocks at both ends', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const model = new ChunkModel();
      const base = patternBytes(4 * B, 3);
      await store.write(H, 0, base);
      model.write(0, base);
      await store.sync(H);
      const patch = patternBytes(2 * B, 4);
      await store.write(H, B - 1000, patch);
      model.write(B - 1000, patch);
      expect(await store.sync(H)).to.equal(4 * B);
      expect((await store.read(H, 0, 4 * B)).equals(model.slice(0, 4 * B))).to.equal(true);
      expect(await store.verify(H)).to.equal(true);
    });

    it('clips reads to the durable length until a sync', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('durable'));
      await store.sync(H);
      await store.write(H, 7, Buffer.from('-pending'));
      expect(store.info(H)).to.include({ length: 15, durableLength: 7 });
      expect((await store.read(H, 0, 100)).toString()).to.equal('durable');
      expect((await store.read(H, 7, 100)).length).to.equal(0);
      expect(store.list()[0]?.length).to.equal(7);
      expect(await store.sync(H)).to.equal(15);
      expect((await store.read(H, 0, 100)).toString()).to.equal('durable-pending');
    });

    it('refuses writes past the chunk size and negative or fractional offsets with INVALID_ARGUMENT', async () => {
      const store = await openStore(storeDir(), { chunkSizeBytes: 4 * B });
      await store.create(H, V1);
      await expectCode(store.write(H, 4 * B - 1, Buffer.from('xy')), 'INVALID_ARGUMENT');
      await expectCode(store.write(H, -1, Buffer.from('x')), 'INVALID_ARGUMENT');
      await expectCode(store.write(H, 1.5, Buffer.from('x')), 'INVALID_ARGUMENT');
      await expectCode(store.pad(H, 4 * B + 1), 'INVALID_ARGUMENT');
      await expectCode(store.read(H, -1, 10), 'INVALID_ARGUMENT');
      expect(store.info(H)?.length).to.equal(0);
    });

    it('applies mutations in call order when the caller does not await them', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const model = new ChunkModel();
      const next = rng(99);
      const pending: Array<Promise<unknown>> = [];
      for (let i = 0; i < 200; i++) {
        const kind = next(10);
        if (kind < 7) {
          const offset = next(6 * B);
          const data = patternBytes(1 + next(B + 500), i + 10);
          pending.push(store.write(H, offset, data));
          model.write(offset, data);
        } else if (kind < 8) {
          const length = model.length + next(B);
          pending.push(store.pad(H, length));
          model.resize(length);
        } else if (kind < 9) {
          const length = next(model.length + 1);
          pending.push(store.truncate(H, length));
          model.resize(length);
        } else {
          pending.push(store.sync(H));
        }
      }
      pending.push(store.sync(H));
      await Promise.all(pending);
      expect(store.info(H)?.durableLength).to.equal(model.length);
      expect((await store.read(H, 0, 8 * B)).equals(model.slice(0, model.length))).to.equal(true);
      expect(await store.verify(H)).to.equal(true);
    });

    it('orders reads and overwrites of the same blocks by call order', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const before = patternBytes(3 * B, 21);
      const after = patternBytes(3 * B, 22);
      await store.write(H, 0, before);
      await store.sync(H);
      const readBefore = store.read(H, 10, 2 * B);
      const overwrite = store.write(H, 5, after.subarray(5, 3 * B - 5));
      const readAfter = store.read(H, 10, 2 * B);
      await overwrite;
      expect((await readBefore).equals(before.subarray(10, 2 * B + 10))).to.equal(true);
      expect((await readAfter).equals(after.subarray(10, 2 * B + 10))).to.equal(true);
    });

    it('never reports a false mismatch when readers race overwriters of the same blocks', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const size = 16 * B;
      const model = new ChunkModel();
      model.write(0, patternBytes(size, 1));
      await store.write(H, 0, model.slice(0, size));
      await store.sync(H);
      const seed = 4242;
      const next = rng(seed);
      let writesLeft = 300;
      let reads = 0;
      // Workers that each keep one operation in flight, so reads and writes overlap in time.
      const writer = async (): Promise<void> => {
        while (writesLeft-- > 0) {
          const offset = next(size - 1);
          const data = Buffer.alloc(1 + next(Math.min(size - offset, 16 * B)), writesLeft & 0xff);
          const writing = store.write(H, offset, data);
          model.write(offset, data);
          await writing;
          if (writesLeft % 64 === 0) await store.sync(H);
        }
      };
      const reader = async (): Promise<void> => {
        while (writesLeft > 0) {
          const offset = next(size - 1);
          const bytes = await store.read(H, offset, 1 + next(16 * B));
          expect(bytes.length).to.be.greaterThan(0);
          reads++;
        }
      };
      const results = await Promise.allSettled([writer(), writer(), reader(), reader(), reader(), reader()]);
      const failures = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      expect(failures, `seed ${seed}`).to.deep.equal([]);
      expect(reads).to.be.greaterThan(100);
      expect(store.info(H)?.corrupt).to.equal(false);
      expect((await store.read(H, 0, size)).equals(model.slice(0, size))).to.equal(true);
    });
  });

  describe('durability and crashes', () => {
    it('comes back as its last sync after unsynced mutations and a close without sync', async () => {
      let store = await openStore();
      await store.create(H, V1);
      const synced = patternBytes(B + 10, 1);
      await store.write(H, 0, synced);
      await store.sync(H);
      await store.write(H, B + 10, patternBytes(3 * B, 2));
      await store.pad(H, 6 * B);
      store = await reopen(store);
      expect(store.info(H)).to.deep.include({ version: V1, length: B + 10, durableLength: B + 10, corrupt: false, importing: false });
      expect((await stat(chunkPath(storeDir(), H))).size).to.equal(B + 10);
      expect((await store.read(H, 0, 10 * B)).equals(synced)).to.equal(true);
      // Appending again continues from the trimmed tail.
      await store.write(H, B + 10, Buffer.from('more'));
      await store.sync(H);
      expect((await store.read(H, B, 100)).equals(Buffer.concat([synced.subarray(B), Buffer.from('more')]))).to.equal(true);
      expect(await store.verify(H)).to.equal(true);
    });

    it('comes back as its last sync from a copy of the directory taken mid-way', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const synced = patternBytes(2 * B + 3, 5);
      await store.write(H, 0, synced);
      await store.sync(H);
      await store.write(H, 2 * B + 3, patternBytes(B, 6));
      store.recordAppend(H, C1, 1, 2 * B + 3, B);
      const copy = join(tmp.path, 'copy');
      await cp(storeDir(), copy, { recursive: true });
      const restored = await openStore(copy);
      expect(restored.list()).to.deep.equal([{ handle: H, version: V1, length: 2 * B + 3 }]);
      expect((await restored.read(H, 0, 4 * B)).equals(synced)).to.equal(true);
      expect(restored.findAppend(H, C1, 1)).to.equal(undefined);
    });

    it('comes back as its last sync when the unsynced tail never reached the disk', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('synced'));
      await store.sync(H);
      await store.write(H, 6, patternBytes(2 * B, 8));
      await store.close();
      // What a crash loses: everything after the last fdatasync.
      const file = await openFile(chunkPath(storeDir(), H), 'r+');
      await file.truncate(6);
      await file.close();
      store = await openStore();
      expect((await store.read(H, 0, 100)).toString()).to.equal('synced');
      expect(await store.verify(H)).to.equal(true);
    });

    it('detects a torn overwrite of durable data (crash before the batch) as CHECKSUM_MISMATCH', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, patternBytes(2 * B, 9));
      await store.sync(H);
      await store.write(H, 100, Buffer.from('rewritten but never synced'));
      store = await reopen(store);
      const err = await expectCode(store.read(H, 0, 10), 'CHECKSUM_MISMATCH');
      expect(err.message).to.contain(String(H)).and.contain('block 0');
      // The block that was not touched is still fine, but the replica is no longer served.
      expect(store.info(H)?.corrupt).to.equal(true);
    });

    it('makes a sync called during another sync cover the mutations in between', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('one'));
      const first = store.sync(H);
      const joined = store.sync(H);
      const w = store.write(H, 3, Buffer.from('two'));
      const second = store.sync(H);
      const third = store.sync(H);
      expect(await first).to.equal(3);
      expect(await joined).to.equal(3);
      await w;
      expect(await second).to.equal(6);
      expect(await third).to.equal(6);
      expect(await store.sync(H)).to.equal(6);
    });
  });

  describe('corruption', () => {
    it('detects a flipped byte as CHECKSUM_MISMATCH naming the handle and block, and marks the replica corrupt', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, patternBytes(3 * B, 11));
      await store.sync(H);
      await flipByte(H, 2 * B + 5);
      expect((await store.read(H, 0, 2 * B)).length).to.equal(2 * B);
      const err = await expectCode(store.read(H, 2 * B, 10), 'CHECKSUM_MISMATCH');
      expect(err.message).to.contain(String(H)).and.contain('block 2');
      expect(store.info(H)?.corrupt).to.equal(true);
      expect(store.list()).to.deep.equal([]);
      // Later reads fail fast, even of good blocks, and so do mutations.
      await expectCode(store.read(H, 0, 10), 'CHECKSUM_MISMATCH');
      await expectCode(store.write(H, 0, Buffer.from('x')), 'CHECKSUM_MISMATCH');
      store = await reopen(store);
      expect(store.info(H)?.corrupt).to.equal(true);
      expect(store.list()).to.deep.equal([]);
    });

    it('refuses to overwrite part of a corrupt block rather than checksum the bad bytes again', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, patternBytes(B, 12));
      await store.sync(H);
      await flipByte(H, 10);
      await expectCode(store.write(H, 100, Buffer.from('patch')), 'CHECKSUM_MISMATCH');
      expect(store.info(H)?.corrupt).to.equal(true);
    });

    it('finds a flipped byte with verify() and marks the replica corrupt', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, patternBytes(40 * B + 3, 13));
      await store.sync(H);
      expect(await store.verify(H)).to.equal(true);
      await flipByte(H, 40 * B + 1);
      expect(await store.verify(H)).to.equal(false);
      expect(store.info(H)?.corrupt).to.equal(true);
    });

    it('marks a replica whose file is missing as corrupt at open, and deletes files without metadata', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.create(chunkHandle(7), V1);
      await store.close();
      const { unlink } = await import('node:fs/promises');
      await unlink(chunkPath(storeDir(), chunkHandle(7)));
      const orphan = chunkPath(storeDir(), chunkHandle(0x99));
      await writeFile(orphan, 'left behind by a crash');
      store = await openStore();
      expect(store.info(chunkHandle(7))?.corrupt).to.equal(true);
      expect(store.list().map((r) => r.handle)).to.deep.equal([H]);
      expect(await readdir(join(storeDir(), 'chunks', '99'))).to.deep.equal([]);
      await store.delete(chunkHandle(7));
      expect(store.info(chunkHandle(7))).to.equal(undefined);
    });
  });

  describe('versions', () => {
    it('refuses setVersion with the wrong expected version with STALE_VERSION and changes nothing', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('keep all of this'));
      await store.sync(H);
      await expectCode(store.setVersion(H, V2, chunkVersion(3), 4), 'STALE_VERSION');
      expect(store.info(H)).to.deep.include({ version: V1, length: 16, durableLength: 16, corrupt: false, importing: false });
      expect((await store.read(H, 0, 100)).toString()).to.equal('keep all of this');
    });

    it('sets the version and truncates durably before resolving', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, patternBytes(2 * B, 14));
      await store.sync(H);
      await store.write(H, 2 * B, Buffer.from('unacknowledged'));
      await store.setVersion(H, V1, V2, B + 1);
      expect(store.list()).to.deep.equal([{ handle: H, version: V2, length: B + 1 }]);
      store = await reopen(store);
      expect(store.list()).to.deep.equal([{ handle: H, version: V2, length: B + 1 }]);
      expect((await store.read(H, 0, 3 * B)).equals(patternBytes(2 * B, 14).subarray(0, B + 1))).to.equal(true);
      await expectCode(store.setVersion(H, V1, V2, 0), 'STALE_VERSION');
    });

    it('checks setVersion against the version after every setVersion called before it', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const a = store.setVersion(H, V1, V2, 0);
      const b = store.setVersion(H, V2, chunkVersion(3), 0);
      await Promise.all([a, b]);
      expect(store.info(H)?.version).to.equal(3);
    });
  });

  describe('record-append dedup', () => {
    it('keeps dedup entries across a reopen once synced', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('first-record'));
      store.recordAppend(H, C1, 1, 0, 12);
      await store.write(H, 12, Buffer.from('second'));
      store.recordAppend(H, C1, 2, 12, 6);
      await store.sync(H);
      store = await reopen(store);
      expect(store.findAppend(H, C1, 1)).to.deep.equal({ offset: 0, length: 12 });
      expect(store.findAppend(H, C1, 2)).to.deep.equal({ offset: 12, length: 6 });
      expect(store.findAppend(H, C1, 3)).to.equal(undefined);
    });

    it('loses dedup entries that were never synced, with their data', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('rec'));
      store.recordAppend(H, C1, 1, 0, 3);
      store = await reopen(store);
      expect(store.findAppend(H, C1, 1)).to.equal(undefined);
      expect(store.info(H)?.length).to.equal(0);
    });

    it('drops entries that reach past a truncation, durably', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.alloc(300, 1));
      store.recordAppend(H, C1, 1, 0, 100);
      store.recordAppend(H, C1, 2, 100, 100);
      store.recordAppend(H, clientId('client-two'), 1, 200, 100);
      await store.sync(H);
      await store.truncate(H, 150);
      expect(store.findAppend(H, C1, 1)).to.deep.equal({ offset: 0, length: 100 });
      expect(store.findAppend(H, C1, 2)).to.equal(undefined);
      expect(store.findAppend(H, clientId('client-two'), 1)).to.equal(undefined);
      store = await reopen(store);
      expect(store.findAppend(H, C1, 1)).to.deep.equal({ offset: 0, length: 100 });
      expect(store.findAppend(H, C1, 2)).to.equal(undefined);
    });

    it('drops entries that reach past setVersion truncateTo', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.alloc(200, 1));
      store.recordAppend(H, C1, 1, 0, 100);
      store.recordAppend(H, C1, 2, 100, 100);
      await store.setVersion(H, V1, V2, 100);
      expect(store.findAppend(H, C1, 1)).to.deep.equal({ offset: 0, length: 100 });
      expect(store.findAppend(H, C1, 2)).to.equal(undefined);
    });

    it('keeps only the last appendDedupWindow entries per client, also after a reopen', async () => {
      let store = await openStore();
      await store.create(H, V1);
      const n = LIMITS.appendDedupWindow + 5;
      await store.write(H, 0, Buffer.alloc(n, 1));
      for (let seq = 1; seq <= n; seq++) store.recordAppend(H, C1, seq, seq - 1, 1);
      await store.sync(H);
      expect(store.findAppend(H, C1, 5)).to.equal(undefined);
      expect(store.findAppend(H, C1, 6)).to.deep.equal({ offset: 5, length: 1 });
      store = await reopen(store);
      expect(store.findAppend(H, C1, 5)).to.equal(undefined);
      expect(store.findAppend(H, C1, 6)).to.deep.equal({ offset: 5, length: 1 });
      expect(store.findAppend(H, C1, n)).to.deep.equal({ offset: n - 1, length: 1 });
    });

    it('refuses an empty or oversized client id with INVALID_ARGUMENT', async () => {
      const store = await openStore();
      await store.create(H, V1);
      await expectCode(() => store.recordAppend(H, clientId(''), 1, 0, 0), 'INVALID_ARGUMENT');
      await expectCode(() => store.recordAppend(H, clientId('x'.repeat(200)), 1, 0, 0), 'INVALID_ARGUMENT');
    });
  });

  describe('imports', () => {
    it('keeps an importing replica out of list() and read() until finishImport', async () => {
      let store = await openStore();
      await store.create(H, V1, { importing: true });
      await store.write(H, 0, Buffer.from('copied bytes'));
      expect(store.list()).to.deep.equal([]);
      expect(store.info(H)?.importing).to.equal(true);
      await expectCode(store.read(H, 0, 5), 'NOT_FOUND');
      await store.finishImport(H, EMPTY_LINEAGE);
      expect(store.list()).to.deep.equal([{ handle: H, version: V1, length: 12 }]);
      expect((await store.read(H, 0, 100)).toString()).to.equal('copied bytes');
      store = await reopen(store);
      expect(store.list()).to.deep.equal([{ handle: H, version: V1, length: 12 }]);
    });

    it('deletes a replica left importing by a crash when it reopens', async () => {
      let store = await openStore();
      await store.create(H, V1, { importing: true });
      await store.write(H, 0, Buffer.from('half a copy'));
      await store.sync(H);
      store = await reopen(store);
      expect(store.info(H)).to.equal(undefined);
      expect(store.usedBytes()).to.equal(0);
      expect(await readdir(join(storeDir(), 'chunks', '01'))).to.deep.equal([]);
    });
  });

  describe('delete, capacity and lifecycle', () => {
    it('deletes the file and metadata, and the handle can be created again', async () => {
      let store = await openStore();
      await store.create(H, V1);
      await store.write(H, 0, Buffer.from('gone soon'));
      store.recordAppend(H, C1, 1, 0, 4);
      await store.sync(H);
      const deleting = store.delete(H);
      await expectCode(store.write(H, 0, Buffer.from('x')), 'NOT_FOUND');
      const recreating = store.create(H, V2);
      await deleting;
      await recreating;
      expect(store.info(H)).to.deep.include({ version: V2, length: 0, durableLength: 0, corrupt: false, importing: false });
      expect(store.findAppend(H, C1, 1)).to.equal(undefined);
      store = await reopen(store);
      expect(store.list()).to.deep.equal([{ handle: H, version: V2, length: 0 }]);
      expect(store.findAppend(H, C1, 1)).to.equal(undefined);
    });

    it('refuses growth beyond capacityBytes with NO_SPACE, and counts used bytes', async () => {
      const store = await openStore(storeDir(), { capacityBytes: 1000 });
      await store.create(H, V1);
      await store.write(H, 0, Buffer.alloc(600));
      expect(store.usedBytes()).to.equal(600);
      await expectCode(store.write(H, 600, Buffer.alloc(401)), 'NO_SPACE');
      await store.write(H, 600, Buffer.alloc(400));
      await store.truncate(H, 100);
      expect(store.usedBytes()).to.equal(100);
      expect(store.info(H)?.corrupt).to.equal(false);
    });

    it('reports the file system size as capacity when none is given', async () => {
      const store = await openStore();
      expect(store.capacityBytes()).to.be.greaterThan(0);
    });

    it('waits for work in flight on close and refuses calls after it with UNAVAILABLE', async () => {
      const store = await openStore();
      await store.create(H, V1);
      const writing = store.write(H, 0, patternBytes(4 * B, 15));
      const syncing = store.sync(H);
      await store.close();
      await writing;
      expect(await syncing).to.equal(4 * B);
      await expectCode(store.read(H, 0, 1), 'UNAVAILABLE');
      const reopened = await openStore();
      expect(reopened.info(H)?.durableLength).to.equal(4 * B);
    });
  });
});
