import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { crc32c } from '../../common/crc32c.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { chunkserverServices } from '../../proto/load.js';
import { encodeFrame, rawFrameClientConstructor } from '../../proto/pipeline-frames.js';
import type { WriteAck__Output } from '../../proto/generated/dfs/chunk/WriteAck.js';
import type { DfsClient } from '../../client-lib/index.js';
import { TestCluster } from '../harness/test-cluster.js';
import { expectStatus } from '../harness/expect-status.js';
import { rawClients } from '../harness/raw-clients.js';
import { isDfsError } from '../../common/errors.js';
import { LIMITS } from '../../common/limits.js';
import { MetadataSession, type SessionCall } from '../../client-lib/metadata-session.js';
import { SessionStream } from '../../client-lib/session-stream.js';
import type { SessionRead } from '../../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer__Output } from '../../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { AppendRequest } from '../../proto/generated/dfs/chunk/AppendRequest.js';
import type { SessionAppend } from '../../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer__Output } from '../../proto/generated/dfs/chunk/SessionAppendAnswer.js';

/** A bidirectional write stream: sends frames, then resolves with the status it ends with. */
function writeStream(address: string, credentials: grpc.ChannelCredentials, frames: Buffer[]): Promise<unknown> {
  const Client = rawFrameClientConstructor(chunkserverServices().dfs.chunk.ChunkData.service, 'ChunkData');
  const client = new Client(address, credentials);
  const stream = client.Write();
  return new Promise<unknown>((resolve, reject) => {
    stream.on('data', (_ack: WriteAck__Output) => undefined);
    stream.on('error', (err) => {
      client.close();
      reject(err);
    });
    stream.on('end', () => {
      client.close();
      resolve(undefined);
    });
    for (const f of frames) stream.write(f);
    stream.end();
  });
}

describe('bad input gets a clear error and changes nothing', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: DfsClient;
  let raw: ReturnType<typeof rawClients>;
  let baseline: string;
  let handle: string;
  let version: string;
  let inode: string;
  let primary: string;
  let secondary: string;
  let id = 1000;
  const rid = () => ({ clientId: 'bad-input-test', seq: String(++id) });

  /** Everything a client can observe: the namespace, attributes, sizes, and the reference file's bytes. */
  async function observe(): Promise<string> {
    const entries: string[] = [];
    const walk = async (path: string): Promise<void> => {
      for (const e of await client.list(path)) {
        const child = path === '/' ? `/${e.name}` : `${path}/${e.name}`;
        entries.push(`${child} ${e.attr.kind} ${e.attr.size} ${e.attr.mode} ${e.attr.mtimeMs} ${e.attr.chunkCount}`);
        if (e.attr.kind === 'directory') await walk(child);
      }
    };
    await walk('/');
    const health = await client.clusterHealth();
    return [...entries, `files ${health.files} chunks ${health.chunks}`, (await client.readFile('/ref')).toString('hex')].join('\n');
  }

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 3 });
    client = await cluster.client();
    raw = rawClients(cluster.masters[0]!, cluster);
    await client.mkdir('/dir');
    await client.writeFile('/ref', Buffer.from('reference bytes'));
    inode = String((await client.stat('/ref')).inode);
    const page = await callUnary(raw.metadata(), 'GetChunks', { inode, firstIndex: '0', count: 0 }, 5000);
    handle = page.chunks[0]!.handle;
    const { lease } = await callUnary(raw.metadata(), 'GetLease', { handle }, 5000);
    version = lease!.version;
    primary = lease!.primary!.address;
    secondary = lease!.secondaries[0]!.address;
    baseline = await observe();
  });
  after(async () => {
    raw?.close();
    await cluster?.stop();
  });
  afterEach(async () => {
    expect(await observe(), 'state after bad input').to.equal(baseline);
  });

  it('refuses bad paths: .., ., empty components, NUL, relative, over-long names and paths', async () => {
    const md = raw.metadata();
    const bad = ['/dir/../x', '/dir/./x', '/dir//x', '/dir/', '/x\u0000y', 'relative', ''];
    for (const path of bad) {
      await expectStatus(() => callUnary(md, 'Create', { requestId: rid(), path, mode: 0o644 }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(() => callUnary(md, 'Mkdir', { requestId: rid(), path, mode: 0o755 }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(() => callUnary(md, 'Stat', { path }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    }
    await expectStatus(() => callUnary(md, 'Create', { requestId: rid(), path: '/' + 'n'.repeat(256), mode: 0o644 }, 5000), grpc.status.INVALID_ARGUMENT, 'NAME_TOO_LONG');
    await expectStatus(() => callUnary(md, 'Create', { requestId: rid(), path: ('/' + 'n'.repeat(250)).repeat(17), mode: 0o644 }, 5000), grpc.status.INVALID_ARGUMENT, 'NAME_TOO_LONG');
    await expectStatus(() => callUnary(md, 'Rename', { requestId: rid(), source: '/ref', destination: '/dir/../ref2' }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });

  it('refuses mutations without a request id, and bad modes', async () => {
    const md = raw.metadata();
    await expectStatus(() => callUnary(md, 'Create', { path: '/new', mode: 0o644 }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => callUnary(md, 'Create', { requestId: { clientId: '', seq: '1' }, path: '/new' }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => callUnary(md, 'Create', { requestId: rid(), path: '/new', mode: 0o17777 }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });

  it('refuses negative, huge and out-of-range offsets and sizes', async () => {
    const md = raw.metadata();
    for (const n of ['-1', '18446744073709551615', '9007199254740993']) {
      await expectStatus(() => callUnary(md, 'CommitWrite', { requestId: rid(), inode, endOffset: n }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(() => callUnary(md, 'GetChunks', { inode: n, firstIndex: '0' }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(() => callUnary(raw.metadata(), 'Truncate', { requestId: rid(), inode, size: n }, 5000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    }
    await expectStatus(() => callUnary(md, 'Truncate', { requestId: rid(), inode, size: String(2 ** 52) }, 5000), grpc.status.RESOURCE_EXHAUSTED, 'TOO_LARGE');
    await expectStatus(() => callUnary(md, 'AllocateChunk', { requestId: rid(), inode, index: String(2 ** 40) }, 5000), grpc.status.RESOURCE_EXHAUSTED, 'TOO_LARGE');
    const read = (offset: string, length: string) =>
      new Promise((resolve, reject) => {
        const c = rawClients(primary, cluster).data();
        const s = c.Read({ handle, version, offset, length });
        s.on('data', () => undefined).on('error', reject).on('end', resolve);
      });
    await expectStatus(() => read('-1', '10'), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => read('0', '18446744073709551615'), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });

  it('refuses unknown inodes, handles and chunks', async () => {
    const md = raw.metadata();
    await expectStatus(() => callUnary(md, 'GetChunks', { inode: '424242', firstIndex: '0' }, 5000), grpc.status.NOT_FOUND, 'NOT_FOUND');
    await expectStatus(() => callUnary(md, 'GetLease', { handle: '999999' }, 5000), grpc.status.NOT_FOUND, 'NOT_FOUND');
    await expectStatus(() => callUnary(md, 'CommitWrite', { requestId: rid(), inode: '424242', endOffset: '1' }, 5000), grpc.status.NOT_FOUND, 'NOT_FOUND');
    await expectStatus(() => callUnary(md, 'Stat', { path: '/nope' }, 5000), grpc.status.NOT_FOUND, 'NOT_FOUND');
    const read = () =>
      new Promise((resolve, reject) => {
        const s = rawClients(primary, cluster).data().Read({ handle: '999999', version: '1', offset: '0', length: '10' });
        s.on('data', () => undefined).on('error', reject).on('end', resolve);
      });
    await expectStatus(read, grpc.status.NOT_FOUND, 'NOT_FOUND');
  });

  it('answers bad requests on metadata, read and append sessions with their errors, and the sessions go on', async () => {
    const reads = new SessionStream<SessionRead, SessionReadAnswer__Output>(() => rawClients(primary, cluster).data().ReadSession(), 'read session');
    const read = (fields: Partial<SessionRead>) =>
      reads.request((id) => ({ id, handle, version, offset: '0', length: 9, accessToken: '', ...fields }), 5_000).then(
        (a) => a.data.toString(),
        (e: unknown) => (isDfsError(e) ? e.code : String(e)),
      );
    expect({
      unknown: await read({ handle: '999999' }),
      newer: await read({ version: String(Number(version) + 5) }),
      tooLong: await read({ length: LIMITS.sessionReadMaxBytes + 1 }),
      badOffset: await read({ offset: '18446744073709551615' }),
      past: await read({ offset: '1000000' }),
      good: await read({}),
    }).to.deep.equal({ unknown: 'NOT_FOUND', newer: 'STALE_VERSION', tooLong: 'TOO_LARGE', badOffset: 'INVALID_ARGUMENT', past: '', good: 'reference' });
    reads.close();

    const appends = new SessionStream<SessionAppend, SessionAppendAnswer__Output>(() => rawClients(primary, cluster).data().AppendSession(), 'append session');
    const record = Buffer.from('never lands');
    const good = { handle, version, clientId: 'bad-input-test', seq: '1', data: record, dataCrc32c: crc32c(record) };
    const append = (fields: Partial<AppendRequest> | null) =>
      appends.request((id) => ({ id, append: fields === null ? null : { ...good, ...fields }, accessToken: '' }), 5_000).then(
        (a) => `offset ${a.offset}`,
        (e: unknown) => (isDfsError(e) ? e.code : String(e)),
      );
    expect({
      missing: await append(null),
      empty: await append({ data: Buffer.alloc(0), dataCrc32c: 0 }),
      corrupt: await append({ dataCrc32c: crc32c(record) ^ 1 }),
      noClient: await append({ clientId: '' }),
      seqZero: await append({ seq: '0' }),
      badHandle: await append({ handle: '18446744073709551615' }),
      unknown: await append({ handle: '999999' }),
    }).to.deep.equal({
      missing: 'INVALID_ARGUMENT',
      empty: 'INVALID_ARGUMENT',
      corrupt: 'CHECKSUM_MISMATCH',
      noClient: 'INVALID_ARGUMENT',
      seqZero: 'INVALID_ARGUMENT',
      badHandle: 'INVALID_ARGUMENT',
      unknown: 'LEASE_EXPIRED',
    });
    expect(appends.inFlight()).to.equal(0);
    appends.close();

    const batches = new MetadataSession(raw.metadata());
    const batch = (call: SessionCall) =>
      batches.request(call, 5_000).then(
        (results) => results.map((r) => r.error?.code ?? r.result),
        (e: unknown) => (isDfsError(e) ? e.code : String(e)),
      );
    const stat = { stat: { path: '/ref', caller: { uid: 0, gid: 0, groups: [] } } };
    expect({
      tooMany: await batch({ kind: 'readBatch', request: { ops: Array.from({ length: LIMITS.batchOpsMax + 1 }, () => stat) } }),
      noRequestId: await batch({ kind: 'batch', request: { ops: [{ mkdir: { path: '/dir/x', mode: 0o755, caller: { uid: 0, gid: 0, groups: [] } } }] } }),
      badPath: await batch({ kind: 'readBatch', request: { ops: [{ stat: { path: 'relative', caller: { uid: 0, gid: 0, groups: [] } } }] } }),
      good: await batch({ kind: 'readBatch', request: { ops: [stat] } }),
    }).to.deep.equal({ tooMany: 'TOO_LARGE', noRequestId: ['INVALID_ARGUMENT'], badPath: ['INVALID_ARGUMENT'], good: ['attr'] });
    batches.close();
  });

  it('ends a read session at bytes that are no message with INVALID_ARGUMENT, after the answers already sent', async () => {
    const definition = chunkserverServices().dfs.chunk.ChunkData.service.ReadSession;
    const client = rawClients(primary, cluster).data();
    const got = await new Promise<{ code: grpc.status; details: string; answers: number }>((resolve) => {
      const call = client.makeBidiStreamRequest(definition.path, (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata(), {});
      let answers = 0;
      call.on('data', () => answers++);
      call.on('error', () => undefined);
      call.on('status', (status: grpc.StatusObject) => resolve({ code: status.code, details: status.details, answers }));
      for (let id = 1; id <= 3; id++) call.write(definition.requestSerialize({ id, handle: '999999', version: '1', offset: '0', length: 4, accessToken: '' }));
      call.write(Buffer.from('080410050001ff0128ff32027633e501bf', 'hex'));
      call.end();
    });
    // Answers that went out after the interceptor's status used to drop the connection (UNAVAILABLE) or hang the call.
    expect(got.code, got.details).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(got.details).to.contain('is not a valid message');
  });

  it('refuses wrong versions and mutations sent to a replica that holds no lease', async () => {
    const readAt = (v: string) =>
      new Promise((resolve, reject) => {
        const s = rawClients(primary, cluster).data().Read({ handle, version: v, offset: '0', length: '10' });
        s.on('data', () => undefined).on('error', reject).on('end', resolve);
      });
    await expectStatus(() => readAt(String(Number(version) + 5)), grpc.status.FAILED_PRECONDITION, 'STALE_VERSION');
    const data = Buffer.from('x');
    const append = (address: string, v: string, crc = crc32c(data)) =>
      callUnary(rawClients(address, cluster).data(), 'Append', { handle, version: v, clientId: 'bad', seq: '1', data, dataCrc32c: crc }, 5000);
    await expectStatus(() => append(secondary, version), grpc.status.ABORTED, 'LEASE_EXPIRED');
    const { lease } = await callUnary(raw.metadata(), 'GetLease', { handle }, 5000);
    const current = rawClients(lease!.primary!.address, cluster);
    await expectStatus(
      () => callUnary(current.data(), 'Append', { handle, version: String(Number(lease!.version) + 1), clientId: 'bad', seq: '1', data, dataCrc32c: crc32c(data) }, 5000),
      grpc.status.FAILED_PRECONDITION,
      'STALE_VERSION',
    );
    await expectStatus(
      () => callUnary(current.data(), 'Append', { handle, version: lease!.version, clientId: 'bad', seq: '1', data, dataCrc32c: 12345 }, 5000),
      grpc.status.DATA_LOSS,
      'CHECKSUM_MISMATCH',
    );
    await expectStatus(
      () => callUnary(current.replication(), 'PrepareVersion', { handle, minVersion: '5', version: '5' }, 5000),
      grpc.status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
  });

  it('refuses malformed write streams: no header, garbage frames, packets past the chunk, bad checksums', async () => {
    const { lease } = await callUnary(raw.metadata(), 'GetLease', { handle }, 5000);
    const at = lease!.primary!.address;
    const header = encodeFrame({ header: { handle, version: lease!.version, chain: [], clientId: 'bad' } });
    const packet = (offset: number, data: Buffer, crc = crc32c(data)) =>
      encodeFrame({ packet: { kind: 'PACKET_KIND_WRITE', offset: String(offset), data, dataCrc32c: crc } });
    await expectStatus(() => writeStream(at, cluster.channelCredentials('chunkserver'), [packet(0, Buffer.from('x'))]), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => writeStream(at, cluster.channelCredentials('chunkserver'), [Buffer.from([0xff, 0xff, 0xff, 0x01])]), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => writeStream(at, cluster.channelCredentials('chunkserver'), [header, packet(cluster.chunkSizeBytes - 1, Buffer.from('xy'))]), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectStatus(() => writeStream(at, cluster.channelCredentials('chunkserver'), [header, packet(0, Buffer.from('xy'), 7)]), grpc.status.DATA_LOSS, 'CHECKSUM_MISMATCH');
    await expectStatus(
      () => writeStream(at, cluster.channelCredentials('chunkserver'), [header, encodeFrame({ packet: { kind: 'PACKET_KIND_APPEND', offset: '0', data: Buffer.from('x'), dataCrc32c: crc32c(Buffer.from('x')) } })]),
      grpc.status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
  });

  it('refuses oversize messages with RESOURCE_EXHAUSTED', async () => {
    await expectStatus(
      () => callUnary(raw.metadata(), 'Create', { requestId: rid(), path: '/' + 'x'.repeat(5 * 1024 * 1024) }, 10_000),
      grpc.status.RESOURCE_EXHAUSTED,
      'TOO_LARGE',
    );
    const { lease } = await callUnary(raw.metadata(), 'GetLease', { handle }, 5000);
    const big = Buffer.alloc(2 * 1024 * 1024);
    await expectStatus(
      () => callUnary(rawClients(lease!.primary!.address, cluster).data(), 'Append', { handle, version: lease!.version, clientId: 'bad', seq: '9', data: big, dataCrc32c: crc32c(big) }, 10_000),
      grpc.status.RESOURCE_EXHAUSTED,
      'TOO_LARGE',
    );
  });

  it('refuses chunkserver registrations with bad addresses or ids', async () => {
    const registry = raw.registry();
    await expectStatus(
      () => callUnary(registry, 'Register', { server: { id: 'x', address: 'not an address', zone: 'z', rack: 'r' }, capacityBytes: '1', usedBytes: '0' }, 5000),
      grpc.status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
    await expectStatus(
      () => callUnary(registry, 'Register', { server: { id: '../../etc', address: '127.0.0.1:1', zone: 'z', rack: 'r' }, capacityBytes: '1', usedBytes: '0' }, 5000),
      grpc.status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
    const unknown = await callUnary(registry, 'Heartbeat', { serverId: 'never-registered', capacityBytes: '1', usedBytes: '0', chunkCount: '0' }, 5000);
    expect(unknown.fullReportWanted).to.equal(true);
  });
});
