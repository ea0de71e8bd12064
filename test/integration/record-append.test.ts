import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { crc32c } from '../../common/crc32c.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { chunkserverServices, masterServices } from '../../proto/load.js';
import type { DfsClient } from '../../client-lib/index.js';
import { SessionStream } from '../../client-lib/session-stream.js';
import type { SessionAppend } from '../../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer__Output } from '../../proto/generated/dfs/chunk/SessionAppendAnswer.js';
import { TestCluster } from '../harness/test-cluster.js';
import { replicaFiles } from '../harness/replica-files.js';

const CHUNK = 256 * 1024;
const MAGIC = 0x5245434b;
const HEADER = 16;

/** A self-describing record: magic, length, writer, sequence, payload, then a CRC of all that. */
function record(writer: number, seq: number, payloadLength: number): Buffer {
  const out = Buffer.alloc(HEADER + payloadLength + 4);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(out.length, 4);
  out.writeUInt32BE(writer, 8);
  out.writeUInt32BE(seq, 12);
  randomBytes(payloadLength).copy(out, HEADER);
  out.writeUInt32BE(crc32c(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

/** Walks the file: records back to back, zero padding up to a chunk's end, nothing else. */
function scan(data: Buffer): { writer: number; seq: number; offset: number }[] {
  const found = [];
  let p = 0;
  while (p < data.length) {
    if (p + 4 <= data.length && data.readUInt32BE(p) === MAGIC) {
      const length = data.readUInt32BE(p + 4);
      const rec = data.subarray(p, p + length);
      expect(crc32c(rec.subarray(0, length - 4)), `record at ${p} is intact`).to.equal(rec.readUInt32BE(length - 4));
      found.push({ writer: rec.readUInt32BE(8), seq: rec.readUInt32BE(12), offset: p });
      p += length;
    } else {
      expect(data[p], `byte ${p} is padding`).to.equal(0);
      p++;
    }
  }
  return found;
}

describe('record append (real processes, 256 KiB chunks)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 3, chunkSizeBytes: CHUNK });
  });
  after(async () => cluster?.stop());

  it('8 concurrent appenders x 200 records: each once, intact, at the same offset on every replica', async () => {
    const setup = await cluster.client();
    await setup.create('/log');
    // Half append on append sessions, half with an Append call each: both orders interleave at the primaries.
    const writers = await Promise.all(Array.from({ length: 8 }, (_, i) => cluster.client({ appendSessions: i % 2 === 0 })));
    const sent = new Map<string, { offset: number; bytes: Buffer }>();
    await Promise.all(
      writers.map(async (client, writer) => {
        const file = await client.open('/log');
        for (let seq = 0; seq < 200; seq++) {
          const bytes = record(writer, seq, 900 + ((writer * 37 + seq * 11) % 300));
          const offset = await file.append(bytes);
          sent.set(`${writer}:${seq}`, { offset, bytes });
        }
      }),
    );
    const data = await setup.readFile('/log');
    for (const [key, { offset, bytes }] of sent) {
      expect(data.subarray(offset, offset + bytes.length).equals(bytes), `record ${key} at ${offset}`).to.equal(true);
    }
    const found = scan(data);
    expect(found).to.have.length(1600);
    expect(new Set(found.map((r) => `${r.writer}:${r.seq}`)).size).to.equal(1600);
    for (const r of found) expect(sent.get(`${r.writer}:${r.seq}`)!.offset).to.equal(r.offset);
    expect(Math.floor(data.length / CHUNK)).to.be.greaterThan(4);

    const chunks = await replicaFiles(cluster, setup, '/log');
    expect(chunks.length).to.equal((await setup.stat('/log')).chunkCount);
    for (const chunk of chunks) {
      expect(chunk.files.size, `chunk ${chunk.index} replicas`).to.equal(3);
      const [first, ...rest] = [...chunk.files.values()];
      for (const other of rest) expect(other.equals(first!), `replicas of chunk ${chunk.index} are identical`).to.equal(true);
      // Padding is logical: a replica file may end before its chunk does; the rest reads as zeros.
      const expected = data.subarray(chunk.index * CHUNK, (chunk.index + 1) * CHUNK);
      const onDisk = Buffer.concat([first!, Buffer.alloc(Math.max(0, expected.length - first!.length))]);
      expect(onDisk.subarray(0, expected.length).equals(expected), `chunk ${chunk.index} on disk matches the file`).to.equal(true);
    }
  });

  it('answers a retried append (same client id and sequence) with the first offset, landing it once', async () => {
    const client = await cluster.client();
    await client.create('/retry');
    const Metadata = masterServices().dfs.master.Metadata;
    const master = new Metadata(cluster.masters[0]!, cluster.channelCredentials('mount'));
    const alloc = await callUnary(master, 'AllocateChunk', { requestId: { clientId: 'raw', seq: '1' }, inode: String((await client.stat('/retry')).inode), index: '0' }, 5000);
    const handle = alloc.chunks[0]!.handle;
    const { lease } = await callUnary(master, 'GetLease', { handle }, 5000);
    const ChunkData = chunkserverServices().dfs.chunk.ChunkData;
    const primary = new ChunkData(lease!.primary!.address, cluster.channelCredentials('chunkserver'));
    const data = Buffer.from('exactly once');
    const request = { handle, version: lease!.version, clientId: 'retrying-client', seq: '77', data, dataCrc32c: crc32c(data) };
    const first = await callUnary(primary, 'Append', request, 5000);
    const again = await callUnary(primary, 'Append', request, 5000);
    const other = await callUnary(primary, 'Append', { ...request, seq: '78' }, 5000);
    expect(again.offset).to.equal(first.offset);
    expect(Number(other.offset)).to.equal(Number(first.offset) + data.length);
    // The same request on an append session is the same append: it lands no more, and answers the first offset.
    const session = new SessionStream<SessionAppend, SessionAppendAnswer__Output>(() => primary.AppendSession(), 'append session');
    expect((await session.request((id) => ({ id, append: request, accessToken: '' }), 5000)).offset).to.equal(first.offset);
    session.close();
    await callUnary(master, 'CommitWrite', { requestId: { clientId: 'raw', seq: '2' }, inode: String((await client.stat('/retry')).inode), endOffset: String(2 * data.length) }, 5000);
    expect((await client.readFile('/retry')).toString()).to.equal('exactly onceexactly once');
    master.close();
    primary.close();
  });

  it('refuses a record larger than a quarter of a chunk with TOO_LARGE', async () => {
    const client: DfsClient = await cluster.client();
    const file = await client.open('/big-records', { create: true });
    try {
      await file.append(Buffer.alloc(CHUNK / 4 + 1));
      expect.fail('expected TOO_LARGE');
    } catch (err) {
      expect((err as { code: string }).code).to.equal('TOO_LARGE');
    }
    expect((await client.stat('/big-records')).size).to.equal(0);
  });
});
