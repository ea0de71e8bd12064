import { expect } from 'chai';
import { join } from 'node:path';
import { chunkHandle, chunkVersion } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { silentLogger } from '../../../common/logger.js';
import { ChunkStore } from '../../../chunkserver/chunk-store.js';
import { committed, EMPTY_LINEAGE, NO_OVERWRITE, reusableLength } from '../../../chunkserver/lineage.js';
import { expectCode, patternBytes, useTempDir } from './helpers.js';

const B = LIMITS.checksumBlockBytes;
const H = chunkHandle(0x2002);
const V0 = chunkVersion(0);
const V1 = chunkVersion(1);
const V2 = chunkVersion(2);
const V3 = chunkVersion(3);

/** The store's side of deltas and cut-through: lineage kept with the bytes, reimport, reading an import. */
describe('ChunkStore: lineage, reimport and reading imports', () => {
  const tmp = useTempDir();
  const open: ChunkStore[] = [];
  const dir = (): string => join(tmp.path, 'node');

  async function openStore(): Promise<ChunkStore> {
    const store = await ChunkStore.open(dir(), { logger: silentLogger });
    open.push(store);
    return store;
  }

  async function reopen(store: ChunkStore): Promise<ChunkStore> {
    await store.close();
    return openStore();
  }

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  /** A replica committed at v1 (empty), 3 blocks + 10 bytes written and synced, committed at v2. */
  async function twoVersions(store: ChunkStore): Promise<Buffer> {
    const data = patternBytes(3 * B + 10, 7);
    await store.create(H, V0);
    await store.setVersion(H, V0, V1, 0);
    await store.write(H, 0, data);
    await store.sync(H);
    await store.setVersion(H, V1, V2, data.length);
    return data;
  }

  it('pushes an entry per committed version and keeps it across a restart', async () => {
    let store = await openStore();
    const data = await twoVersions(store);
    expect(store.lineage(H)).to.deep.equal({
      entries: [
        { version: V1, prefix: 0 },
        { version: V2, prefix: data.length },
      ],
      overwrittenFrom: NO_OVERWRITE,
    });
    await store.write(H, data.length, Buffer.from('appended'));
    await store.sync(H);
    store = await reopen(store);
    expect(store.lineage(H)?.entries).to.deep.equal([
      { version: V1, prefix: 0 },
      { version: V2, prefix: data.length },
    ]);
  });

  it('a write below the length lowers the current entry, an append does not; durable with the next sync', async () => {
    let store = await openStore();
    const data = await twoVersions(store);
    await store.write(H, data.length, Buffer.from('appended'));
    expect(store.lineage(H)?.entries[1]).to.deep.equal({ version: V2, prefix: data.length });
    await store.write(H, B + 5, Buffer.from('over'));
    await store.sync(H);
    expect(store.lineage(H)?.entries[1]).to.deep.equal({ version: V2, prefix: B + 5 });
    expect(store.lineage(H)?.overwrittenFrom).to.equal(B + 5);
    store = await reopen(store);
    expect(store.lineage(H)?.entries[1]).to.deep.equal({ version: V2, prefix: B + 5 });
    // the next version starts below the overwrite: a copy of v2 taken before it may hold the old bytes
    await store.setVersion(H, V2, V3, data.length);
    expect(reusableLength(store.lineage(H)!, data.length, V2, data.length)).to.equal(B + 5);
  });

  it('a truncate lowers the prefix to the cut', async () => {
    const store = await openStore();
    await twoVersions(store);
    await store.truncate(H, B - 3);
    expect(store.lineage(H)?.entries[1]).to.deep.equal({ version: V2, prefix: B - 3 });
  });

  it('reimport keeps a prefix with a fixed checksum, hides the replica, changes its epoch; finishImport sets the lineage', async () => {
    let store = await openStore();
    const data = await twoVersions(store);
    const before = store.info(H)!.epoch;
    const keep = 2 * B + 100; // inside block 2: its CRC must cover only the kept bytes
    await store.reimport(H, V3, keep);
    const info = store.info(H)!;
    expect(info).to.deep.include({ version: V3, importing: true, durableLength: keep, length: keep });
    expect(info.epoch).to.not.equal(before);
    expect(store.list()).to.deep.equal([]);
    await expectCode(store.read(H, 0, 10), 'NOT_FOUND');
    // the kept bytes still verify; new bytes continue them
    expect((await store.readImport(H, info.epoch, 0, keep, keep)).equals(data.subarray(0, keep))).to.equal(true);
    const tail = patternBytes(B, 9);
    await store.write(H, keep, tail);
    const lineage = committed(committed(EMPTY_LINEAGE, V1, 0), V3, keep);
    await store.sync(H);
    await store.finishImport(H, lineage);
    store = await reopen(store);
    expect(store.list()).to.deep.equal([{ handle: H, version: V3, length: keep + B }]);
    expect((await store.read(H, 0, keep + B)).equals(Buffer.concat([data.subarray(0, keep), tail]))).to.equal(true);
    expect(store.lineage(H)).to.deep.equal(lineage);
    expect(await store.verify(H)).to.equal(true);
  });

  it('readImport reads up to the limit the importer gives, and fails once the epoch changed', async () => {
    const store = await openStore();
    await store.create(H, V1, { importing: true });
    const epoch = store.info(H)!.epoch;
    const bytes = patternBytes(B + 500, 3);
    await store.write(H, 0, bytes);
    expect((await store.readImport(H, epoch, 0, 2 * B, 1000)).equals(bytes.subarray(0, 1000))).to.equal(true);
    expect((await store.readImport(H, epoch, 1000, 2 * B, B + 500)).equals(bytes.subarray(1000))).to.equal(true);
    await store.reimport(H, V2, 10);
    await expectCode(store.readImport(H, epoch, 0, 5, 5), 'UNAVAILABLE');
    // and a plain read that named the epoch it started on fails too once the bytes are replaced
    await store.finishImport(H, EMPTY_LINEAGE);
    const now = store.info(H)!.epoch;
    expect((await store.read(H, 0, 10, now)).length).to.equal(10);
    await store.reimport(H, V3, 0);
    await store.finishImport(H, EMPTY_LINEAGE);
    await expectCode(store.read(H, 0, 10, now), 'UNAVAILABLE');
  });

  it('a replica stored without a lineage has an unknown one: it vouches for nothing', async () => {
    // EMPTY is what create writes; a store from before lineages had no key at all, which loads as unknown (overwrittenFrom 0)
    let store = await openStore();
    await store.create(H, V0);
    await store.setVersion(H, V0, V1, 0);
    await store.write(H, 0, Buffer.from('x'.repeat(100)));
    await store.sync(H);
    await store.close();
    const { Level } = await import('level');
    const db = new Level<string, Buffer>(join(dir(), 'meta'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.del(`${H.toString(16).padStart(16, '0')}/l`);
    await db.close();
    store = await openStore();
    expect(store.lineage(H)).to.deep.equal({ entries: [], overwrittenFrom: 0 });
    await store.setVersion(H, V1, V2, 100);
    expect(reusableLength(store.lineage(H)!, 100, V1, 100)).to.equal(0);
  });
});
