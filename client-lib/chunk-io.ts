import * as grpc from '@grpc/grpc-js';
import { crc32c } from '../common/crc32c.js';
import { partsLength, type ByteParts } from '../common/byte-parts.js';
import { ACCESS_TOKEN_KEY } from '../security/transport-security.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { ClientPool, callUnary } from '../common/grpc-client-pool.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import { dataChannelOptions } from '../common/grpc-server.js';
import type { ChunkHandle } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import { chunkserverServices } from '../proto/load.js';
import { rawFrameClientConstructor, type RawFrameStream, type RawPipelineClient } from '../proto/pipeline-frames.js';
import type { ChunkDataClient } from '../proto/generated/dfs/chunk/ChunkData.js';
import type { ReadResponse__Output } from '../proto/generated/dfs/chunk/ReadResponse.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { DfsClientOptions } from './client-options.js';
import { orderReplicas } from './replica-order.js';
import { SessionStream, type SessionAnswer } from './session-stream.js';
import { LIMITS } from '../common/limits.js';
import type { SessionRead } from '../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer__Output } from '../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { AppendRequest } from '../proto/generated/dfs/chunk/AppendRequest.js';
import type { SessionAppend } from '../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer__Output } from '../proto/generated/dfs/chunk/SessionAppendAnswer.js';

/** A chunk as the client knows it: where it is and at which version. */
export interface ChunkInfo {
  index: number;
  handle: ChunkHandle;
  /** The lowest version a replica may have to be read (the master's confirmed version). */
  version: number;
  replicas: ServerRef__Output[];
  /** Lets this client read the chunk (security/chunk-access.ts); '' when the cluster runs plaintext. */
  accessToken: string;
}

/**
 * The client's data connections to chunkservers: verified reads with
 * failover across replicas, record appends, and write streams.
 */
export class ChunkIo {
  private readonly data: ClientPool<ChunkDataClient>;
  private readonly writers: ClientPool<RawPipelineClient>;
  private readonly sessions = new Map<string, SessionStream<SessionRead, SessionReadAnswer__Output>>();
  private readonly appendSessions = new Map<string, SessionStream<SessionAppend, SessionAppendAnswer__Output>>();

  constructor(
    private readonly options: {
      locality: DfsClientOptions['locality'];
      callTimeoutMs: number;
      random: () => number;
      logger: Logger;
      /** Reads of up to LIMITS.sessionReadMaxBytes on a read session per chunkserver (true unless turned off). */
      readSessions?: boolean;
      /** Record appends on an append session per primary (true unless turned off). */
      appendSessions?: boolean;
    },
    credentials: grpc.ChannelCredentials,
  ) {
    this.data = new ClientPool<ChunkDataClient>(chunkserverServices().dfs.chunk.ChunkData, dataChannelOptions(), credentials);
    this.writers = new ClientPool<RawPipelineClient>(
      rawFrameClientConstructor(chunkserverServices().dfs.chunk.ChunkData.service, 'ChunkData'),
      dataChannelOptions(),
      credentials,
    );
  }

  /**
   * Reads [offset, offset + length) of a chunk from the nearest replica that
   * can serve it, verifying every frame. Callers ask only for bytes the
   * file's size covers, so a replica that ends early is either at a hole
   * (every usable replica ends there) or missing writes it should hold: the
   * read goes on to the other replicas and keeps the longest answer. A short
   * answer stands only once every replica has given one; if some could not
   * answer, their error is thrown (retryable) rather than zeros returned.
   * Throws the last replica's error (retryable) if none could serve. The
   * bytes come back as the frames they arrived in.
   */
  async readParts(chunk: ChunkInfo, offset: number, length: number): Promise<ByteParts> {
    let lastError: DfsError | undefined;
    const short: { address: string; bytes: number }[] = [];
    let longest: ByteParts | undefined;
    let longestBytes = 0;
    for (const replica of orderReplicas(chunk.replicas, this.options.locality, this.options.random)) {
      let data: ByteParts;
      try {
        data = await this.readFrom(replica, chunk, offset, length);
      } catch (err) {
        const failure = isDfsError(err) ? err : fromGrpcError(err);
        // Every replica takes the same token: a new one comes with fresh locations.
        if ((!failure.retryable && failure.code !== 'NOT_FOUND') || failure.code === 'TOKEN_EXPIRED') throw failure;
        lastError = failure.code === 'NOT_FOUND' ? new DfsError('STALE_VERSION', failure.message, { cause: failure }) : failure;
        this.options.logger.debug({ handle: chunk.handle, replica: replica.address, code: failure.code }, 'replica failed a read');
        continue;
      }
      const bytes = partsLength(data);
      if (bytes < length) {
        short.push({ address: replica.address, bytes });
        if (longest === undefined || bytes > longestBytes) {
          longest = data;
          longestBytes = bytes;
        }
        continue;
      }
      if (short.length > 0) this.warnShort(chunk, offset, length, short, replica.address);
      return data;
    }
    if (longest === undefined || lastError !== undefined) {
      throw lastError ?? new DfsError('UNAVAILABLE', `chunk ${chunk.handle} has no live replica`);
    }
    if (short.some((s) => s.bytes !== longestBytes)) this.warnShort(chunk, offset, length, short, undefined);
    return longest;
  }

  /** Usable replicas of one version disagreeing on a chunk's length break the master's invariant: say so loudly. */
  private warnShort(chunk: ChunkInfo, offset: number, length: number, short: { address: string; bytes: number }[], full: string | undefined): void {
    this.options.logger.warn(
      { handle: chunk.handle, version: chunk.version, offset, length, short, full },
      'replicas of a chunk hold different lengths; read the longest',
    );
  }

  private async readFrom(replica: ServerRef__Output, chunk: ChunkInfo, offset: number, length: number): Promise<ByteParts> {
    const call = () => this.readCall(replica, chunk, offset, length);
    if (length > LIMITS.sessionReadMaxBytes || !(this.options.readSessions ?? true)) return call();
    const session = this.session(replica.address);
    // A chunkserver without read sessions (an older one) gets Read calls.
    return session.orFallback(async () => [await this.readOnSession(session, replica, chunk, offset, length)], call);
  }

  private session(address: string): SessionStream<SessionRead, SessionReadAnswer__Output> {
    return sessionWith(this.sessions, address, () => this.data.get(address).ReadSession(), 'read session');
  }

  private async readOnSession(
    session: SessionStream<SessionRead, SessionReadAnswer__Output>,
    replica: ServerRef__Output,
    chunk: ChunkInfo,
    offset: number,
    length: number,
  ): Promise<Buffer> {
    const answer = await session.request(
      (id) => ({ id, handle: String(chunk.handle), version: String(chunk.version), offset: String(offset), length, accessToken: chunk.accessToken }),
      this.options.callTimeoutMs,
    );
    checkTransit(answer.data, answer.dataCrc32c, replica.address);
    return answer.data;
  }

  private async readCall(replica: ServerRef__Output, chunk: ChunkInfo, offset: number, length: number): Promise<ByteParts> {
    const stream = this.data.get(replica.address).Read(
      { handle: String(chunk.handle), version: String(chunk.version), offset: String(offset), length: String(length) },
      withAccessToken(chunk.accessToken),
      { deadline: Date.now() + this.options.callTimeoutMs + Math.ceil(length / 1_000) },
    );
    const parts: Buffer[] = [];
    let expected = offset;
    try {
      for await (const frame of stream as AsyncIterable<ReadResponse__Output>) {
        if (frame.data.length === 0) continue;
        if (Number(frame.offset) !== expected) throw new DfsError('INTERNAL', `replica sent offset ${frame.offset}, expected ${expected}`);
        checkTransit(frame.data, frame.dataCrc32c, replica.address);
        parts.push(frame.data);
        expected += frame.data.length;
      }
    } catch (err) {
      stream.cancel();
      throw isDfsError(err) ? err : fromGrpcError(err);
    }
    return parts;
  }

  async append(
    primary: ServerRef__Output,
    request: { handle: ChunkHandle; version: number; clientId: string; seq: number; data: Buffer; accessToken: string },
  ): Promise<number> {
    const append: AppendRequest = {
      handle: String(request.handle),
      version: String(request.version),
      clientId: request.clientId,
      seq: String(request.seq),
      data: request.data,
      dataCrc32c: crc32c(request.data),
    };
    const call = async () => Number((await callUnary(this.data.get(primary.address), 'Append', append, this.options.callTimeoutMs, withAccessToken(request.accessToken))).offset);
    if (!(this.options.appendSessions ?? true)) return call();
    const session = this.appendSession(primary.address);
    // A chunkserver without append sessions (an older one) gets Append calls.
    return session.orFallback(async () => {
      const answer = await session.request((id) => ({ id, append, accessToken: request.accessToken }), this.options.callTimeoutMs);
      return Number(answer.offset);
    }, call);
  }

  private appendSession(address: string): SessionStream<SessionAppend, SessionAppendAnswer__Output> {
    return sessionWith(this.appendSessions, address, () => this.data.get(address).AppendSession(), 'append session');
  }

  /** A write stream to a primary, carrying the lease's access token. */
  openWrite(address: string, accessToken: string): RawFrameStream {
    return this.writers.get(address).Write(withAccessToken(accessToken));
  }

  close(): void {
    for (const session of [...this.sessions.values(), ...this.appendSessions.values()]) session.close();
    this.sessions.clear();
    this.appendSessions.clear();
    this.data.close();
    this.writers.close();
  }
}

/** The session of `sessions` with `address`, made on first use; `open` opens its stream, now and after it breaks. */
function sessionWith<Req, Res extends SessionAnswer>(
  sessions: Map<string, SessionStream<Req, Res>>,
  address: string,
  open: () => grpc.ClientDuplexStream<Req, Res>,
  what: string,
): SessionStream<Req, Res> {
  let session = sessions.get(address);
  if (session === undefined) {
    session = new SessionStream(open, `${what} with ${address}`);
    sessions.set(address, session);
  }
  return session;
}

/** Bytes a replica sent must match the CRC it sent with them. */
function checkTransit(data: Buffer, crc: number, address: string): void {
  if (crc32c(data) !== crc >>> 0) throw new DfsError('CHECKSUM_MISMATCH', `data from ${address} failed its checksum in transit`);
}

/** Call metadata carrying a chunk access token (none in plaintext). */
export function withAccessToken(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== '') metadata.set(ACCESS_TOKEN_KEY, token);
  return metadata;
}
