import { expect } from 'chai';
import type * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';

import { ChunkIo, type ChunkInfo } from '../../../client-lib/chunk-io.js';
import { joinParts } from '../../../common/byte-parts.js';
import { crc32c } from '../../../common/crc32c.js';
import { DfsError, isDfsError } from '../../../common/errors.js';
import { failStream, startGrpcServer, stopGrpcServer, type StartedServer } from '../../../common/grpc-server.js';
import { chunkHandle } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { silentLogger, type Logger } from '../../../common/logger.js';
import { chunkserverServices } from '../../../proto/load.js';
import type { ReadRequest__Output } from '../../../proto/generated/dfs/chunk/ReadRequest.js';
import type { ReadResponse } from '../../../proto/generated/dfs/chunk/ReadResponse.js';
import { channelCredentials, PLAINTEXT } from '../../../security/transport-security.js';
import { SessionServer } from '../../../common/session-server.js';
import type { SessionRead__Output } from '../../../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer } from '../../../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { AppendRequest__Output } from '../../../proto/generated/dfs/chunk/AppendRequest.js';
import type { AppendResponse } from '../../../proto/generated/dfs/chunk/AppendResponse.js';
import type { SessionAppend__Output } from '../../../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer } from '../../../proto/generated/dfs/chunk/SessionAppendAnswer.js';
import type { ServerRef__Output } from '../../../proto/generated/dfs/ServerRef.js';
import { toStatus } from '../../../common/grpc-errors.js';

const KiB = 1024;

/** A fake chunkserver on a real port whose one replica holds `bytes` (its durable length) at `version`, or that is down. */
interface FakeReplica {
  id: string;
  bytes: Buffer;
  version: number;
  down?: boolean;
}

/** `reads`: the replicas asked, in order; `via`: how each read came (a Read call, or a message on a read session). */
async function serve(replica: FakeReplica, reads: string[], via: string[], sessions: boolean): Promise<StartedServer> {
  const Read = (call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>) => {
    reads.push(replica.id);
    via.push('call');
    if (replica.down) return failStream(call, new DfsError('UNAVAILABLE', `${replica.id} is down`));
    const offset = Number(call.request.offset);
    const end = Math.min(offset + Number(call.request.length), replica.bytes.length);
    const meta = { version: String(replica.version), chunkLength: String(replica.bytes.length) };
    if (offset >= end) call.write({ offset: String(offset), data: Buffer.alloc(0), dataCrc32c: 0, ...meta });
    for (let at = offset; at < end; at += 64 * KiB) {
      const data = replica.bytes.subarray(at, Math.min(at + 64 * KiB, end));
      call.write({ offset: String(at), data, dataCrc32c: crc32c(data), ...meta });
    }
    call.end();
  };
  const ReadSession = new SessionServer<SessionRead__Output, SessionReadAnswer>({ inFlightMax: 4 }).handler(async (read) => {
    reads.push(replica.id);
    via.push('session');
    if (replica.down) throw new DfsError('UNAVAILABLE', `${replica.id} is down`);
    const offset = Number(read.offset);
    const data = replica.bytes.subarray(Math.min(offset, replica.bytes.length), Math.min(offset + read.length, replica.bytes.length));
    return { id: read.id, data, dataCrc32c: crc32c(data) };
  }, (id, error) => ({ id, error: { code: error.code, message: error.message } }));
  return startGrpcServer(
    (s) => s.addService(chunkserverServices().dfs.chunk.ChunkData.service, (sessions ? { Read, ReadSession } : { Read }) as unknown as grpc.UntypedServiceImplementation),
    { host: '127.0.0.1', port: 0, maxMessageBytes: LIMITS.dataMessageMaxBytes, largeWindow: false, security: PLAINTEXT },
  );
}

/** Records warnings; everything else is dropped. */
function warnings(): { logger: Logger; seen: string[] } {
  const seen: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (_obj, msg) => void seen.push(msg ?? ''),
    child: () => logger,
  };
  return { logger, seen };
}

for (const sessions of [false, true]) describe(`ChunkIo reads, ${sessions ? 'from chunkservers with read sessions' : 'from chunkservers without read sessions'}`, () => {
  const servers: StartedServer[] = [];
  let io: ChunkIo | undefined;

  /** The whole range as one buffer, as a caller that wants one joins it. */
  const read = async (chunk: ChunkInfo, offset: number, length: number): Promise<Buffer> => joinParts(await io!.readParts(chunk, offset, length));

  afterEach(async () => {
    io?.close();
    io = undefined;
    await Promise.all(servers.splice(0).map((s) => stopGrpcServer(s.server, 100)));
  });

  /**
   * Starts the replicas and an io whose nearest replica is the first one
   * (same node), so the test decides which replica is asked first.
   */
  async function setUp(replicas: FakeReplica[], logger: Logger = silentLogger): Promise<{ chunk: ChunkInfo; reads: string[]; via: string[] }> {
    const reads: string[] = [];
    const via: string[] = [];
    const refs = [];
    for (const r of replicas) {
      const server = await serve(r, reads, via, sessions);
      servers.push(server);
      refs.push({ id: r.id, address: `127.0.0.1:${server.port}`, zone: '', rack: '' });
    }
    io = new ChunkIo({ locality: { serverIds: [replicas[0]!.id] }, callTimeoutMs: 5_000, random: () => 0.5, logger }, channelCredentials(PLAINTEXT));
    return { chunk: { index: 0, handle: chunkHandle(1), version: 2, replicas: refs, accessToken: '' }, reads, via };
  }

  it('never reads a replica that is shorter than another as zeros: it fails over and warns', async () => {
    const full = randomBytes(256 * KiB);
    const { logger, seen } = warnings();
    const { chunk, reads } = await setUp(
      [
        { id: 'short', bytes: full.subarray(0, 64 * KiB), version: 2 },
        { id: 'full', bytes: full, version: 2 },
      ],
      logger,
    );
    const got = await read(chunk, 16 * KiB, 200 * KiB);
    expect(got.equals(full.subarray(16 * KiB, 216 * KiB)), 'the bytes of the replica that holds them').to.equal(true);
    expect(reads).to.deep.equal(['short', 'full']);
    expect(seen).to.have.length(1);
  });

  it('returns a short answer only when every replica gives it (a hole at the chunk end)', async () => {
    const written = randomBytes(100 * KiB);
    const { logger, seen } = warnings();
    const { chunk, reads } = await setUp(
      [
        { id: 'a', bytes: written, version: 2 },
        { id: 'b', bytes: written, version: 2 },
        { id: 'c', bytes: written, version: 3 },
      ],
      logger,
    );
    const got = await read(chunk, 0, 256 * KiB);
    expect(got.equals(written)).to.equal(true);
    expect(reads).to.have.length(3);
    expect(seen, 'replicas that agree are no cause for alarm').to.deep.equal([]);
  });

  it('keeps the longest of short answers, and warns that replicas disagree', async () => {
    const written = randomBytes(100 * KiB);
    const { logger, seen } = warnings();
    const { chunk } = await setUp(
      [
        { id: 'missing-writes', bytes: Buffer.alloc(0), version: 2 },
        { id: 'current', bytes: written, version: 2 },
      ],
      logger,
    );
    const got = await read(chunk, 0, 256 * KiB);
    expect(got.equals(written)).to.equal(true);
    expect(seen).to.have.length(1);
  });

  it('fails (retryably) rather than return a short answer while another replica could not say what it holds', async () => {
    const { chunk } = await setUp([
      { id: 'short', bytes: randomBytes(10 * KiB), version: 2 },
      { id: 'down', bytes: Buffer.alloc(0), version: 2, down: true },
    ]);
    const err = await read(chunk, 0, 64 * KiB).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDfsError(err) && err.code, 'the unreachable replica\'s error').to.equal('UNAVAILABLE');
    expect(isDfsError(err) && err.retryable).to.equal(true);
  });

  it('takes the first full answer without asking further', async () => {
    const full = randomBytes(128 * KiB);
    const { chunk, reads } = await setUp([
      { id: 'near', bytes: full, version: 2 },
      { id: 'far', bytes: full, version: 2 },
    ]);
    const got = await read(chunk, 0, 128 * KiB);
    expect(got.equals(full)).to.equal(true);
    expect(reads).to.deep.equal(['near']);
  });

  it('readParts hands back the frames as they came, not joined into one buffer', async () => {
    const full = randomBytes(512 * KiB);
    const { chunk } = await setUp([{ id: 'only', bytes: full, version: 2 }]);
    const parts = await io!.readParts(chunk, 10 * KiB, 300 * KiB);
    // The fake serves 64 KiB frames from the offset asked: 4 whole ones and a last of 44 KiB.
    expect(parts.map((p) => p.length)).to.deep.equal([64 * KiB, 64 * KiB, 64 * KiB, 64 * KiB, 44 * KiB]);
    expect(Buffer.concat(parts).equals(full.subarray(10 * KiB, 310 * KiB))).to.equal(true);
  });

  it(`reads of up to ${LIMITS.sessionReadMaxBytes / KiB} KiB go ${sessions ? 'on the read session' : 'as Read calls'}, longer ones as Read calls`, async () => {
    const full = randomBytes(512 * KiB);
    const { chunk, via } = await setUp([{ id: 'only', bytes: full, version: 2 }]);
    const small = await Promise.all([read(chunk, 4 * KiB, 4 * KiB), read(chunk, 0, LIMITS.sessionReadMaxBytes)]);
    expect(small[0]!.equals(full.subarray(4 * KiB, 8 * KiB))).to.equal(true);
    expect(small[1]!.equals(full.subarray(0, LIMITS.sessionReadMaxBytes))).to.equal(true);
    const large = await read(chunk, 0, LIMITS.sessionReadMaxBytes + 1);
    expect(large.equals(full.subarray(0, LIMITS.sessionReadMaxBytes + 1))).to.equal(true);
    // Without sessions the first read finds ReadSession unimplemented and every read is a call.
    expect(via).to.deep.equal(sessions ? ['session', 'session', 'call'] : ['call', 'call', 'call']);
  });
});

describe('ChunkIo record appends', () => {
  const servers: StartedServer[] = [];
  const ios: ChunkIo[] = [];

  afterEach(async () => {
    for (const io of ios.splice(0)) io.close();
    await Promise.all(servers.splice(0).map((s) => stopGrpcServer(s.server, 100)));
  });

  /** A fake primary that lays records end to end; `via` records how each came. Without `sessions` it has no AppendSession. */
  async function primary(sessions: boolean, via: string[]): Promise<ServerRef__Output> {
    let end = 0;
    const land = (request: AppendRequest__Output): string => {
      if (crc32c(request.data) !== request.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'bad record');
      if (request.data.toString() === 'full') throw new DfsError('CHUNK_FULL', 'no room');
      const offset = end;
      end += request.data.length;
      return String(offset);
    };
    const Append = (call: grpc.ServerUnaryCall<AppendRequest__Output, AppendResponse>, callback: grpc.sendUnaryData<AppendResponse>) => {
      via.push('call');
      try {
        callback(null, { offset: land(call.request) });
      } catch (err) {
        callback(toStatus(err));
      }
    };
    const AppendSession = new SessionServer<SessionAppend__Output, SessionAppendAnswer>({ inFlightMax: 4 }).handler(
      async (request) => {
        via.push('session');
        return { id: request.id, offset: land(request.append!) };
      },
      (id, error) => ({ id, error: { code: error.code, message: error.message } }),
    );
    const server = await startGrpcServer(
      (s) => s.addService(chunkserverServices().dfs.chunk.ChunkData.service, (sessions ? { Append, AppendSession } : { Append }) as unknown as grpc.UntypedServiceImplementation),
      { host: '127.0.0.1', port: 0, maxMessageBytes: LIMITS.dataMessageMaxBytes, largeWindow: false, security: PLAINTEXT },
    );
    servers.push(server);
    return { id: 'p', address: `127.0.0.1:${server.port}`, zone: '', rack: '' };
  }

  function newIo(appendSessions?: boolean): ChunkIo {
    const io = new ChunkIo({ locality: undefined, callTimeoutMs: 5_000, random: () => 0.5, logger: silentLogger, ...(appendSessions === undefined ? {} : { appendSessions }) }, channelCredentials(PLAINTEXT));
    ios.push(io);
    return io;
  }

  const request = (seq: number, data: string) => ({ handle: chunkHandle(1), version: 2, clientId: 'c', seq, data: Buffer.from(data), accessToken: '' });

  for (const [what, sessions, appendSessions, expected] of [
    ['go on the append session', true, undefined, ['session', 'session', 'session']],
    ['go as calls when append sessions are turned off', true, false, ['call', 'call', 'call']],
    ['go as calls to a chunkserver without append sessions, once it answered UNIMPLEMENTED', false, undefined, ['call', 'call', 'call']],
  ] as const) {
    it(`appends ${what}, and a failed one rejects with the primary's code`, async () => {
      const via: string[] = [];
      const io = newIo(appendSessions);
      const p = await primary(sessions, via);
      expect(await io.append(p, request(1, 'abc'))).to.equal(0);
      expect(await io.append(p, request(2, 'defg'))).to.equal(3);
      const full = await io.append(p, request(3, 'full')).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isDfsError(full, 'CHUNK_FULL'), String(full)).to.equal(true);
      expect(via).to.deep.equal(expected);
    });
  }
});
