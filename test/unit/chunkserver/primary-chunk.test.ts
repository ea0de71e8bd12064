import { expect } from 'chai';
import { join } from 'node:path';

import { ChunkStore } from '../../../chunkserver/chunk-store.js';
import { PrimaryChunk } from '../../../chunkserver/primary-chunk.js';
import { ReplicaPipeline } from '../../../chunkserver/replica-pipeline.js';
import { crc32c } from '../../../common/crc32c.js';
import { DfsError } from '../../../common/errors.js';
import { chunkHandle, chunkVersion, clientId, serverId } from '../../../common/ids.js';
import { silentLogger } from '../../../common/logger.js';
import { encodeFrame } from '../../../proto/pipeline-frames.js';
import { expectCode, patternBytes, useTempDir } from './helpers.js';

const CHUNK = 1024 * 1024;
const LEASE_ENDS_MS = 1_000;
const handle = chunkHandle(5);
const version = chunkVersion(2);

describe('primary: acknowledgements and the lease', () => {
  const tmp = useTempDir();
  let store: ChunkStore;
  let nowMs: number;
  let primary: PrimaryChunk;

  beforeEach(async () => {
    store = await ChunkStore.open(join(tmp.path, 'node'), { logger: silentLogger, chunkSizeBytes: CHUNK });
    await store.create(handle, version);
    nowMs = 0;
    // A replica alone: nothing downstream, so a packet is done once durable here.
    const pipeline = new ReplicaPipeline(
      {
        store,
        peer: () => {
          throw new DfsError('INTERNAL', 'no peer in this test');
        },
        selfId: serverId('self'),
        logger: silentLogger,
        writtenBytes: { inc: () => undefined },
      },
      handle,
      version,
      [],
    );
    primary = new PrimaryChunk(store, handle, version, pipeline, 0, LEASE_ENDS_MS, LEASE_ENDS_MS, CHUNK, { nowMs: () => nowMs, wallUs: () => 0 }, async (length) => length);
  });
  afterEach(async () => {
    await store.close();
  });

  function write(offset: number, data: Buffer): Promise<void> {
    const raw = encodeFrame({ packet: { kind: 'PACKET_KIND_WRITE', offset: String(offset), data, dataCrc32c: crc32c(data) } });
    return primary.submit(raw, { kind: 'write', offset, data }, nowMs);
  }

  it('acknowledges a write durable while the lease holds', async () => {
    const data = patternBytes(64 * 1024, 1);
    await write(0, data);
    expect((await store.read(handle, 0, data.length)).equals(data)).to.equal(true);
  });

  // Once the master's lease has run out it may copy the chunk at this version:
  // a write acknowledged after that could be missing from the copy.
  it('does not acknowledge a write that became durable only after the lease ended', async () => {
    const written = write(0, patternBytes(64 * 1024, 2));
    nowMs = LEASE_ENDS_MS;
    await expectCode(written, 'LEASE_EXPIRED');
  });

  it('answers a retried append from its dedup table only while the lease holds', async () => {
    const record = patternBytes(1000, 3);
    const client = clientId('c');
    const offset = await primary.append(client, 1, record, crc32c(record), nowMs);
    expect(await primary.append(client, 1, record, crc32c(record), nowMs), 'a retry lands once').to.equal(offset);
    nowMs = LEASE_ENDS_MS;
    await expectCode(() => primary.append(client, 1, record, crc32c(record), nowMs), 'LEASE_EXPIRED');
  });

  it('does not acknowledge an append that became durable only after the lease ended', async () => {
    const record = patternBytes(1000, 4);
    const appended = primary.append(clientId('c'), 7, record, crc32c(record), nowMs);
    nowMs = LEASE_ENDS_MS;
    await expectCode(appended, 'LEASE_EXPIRED');
  });
});
