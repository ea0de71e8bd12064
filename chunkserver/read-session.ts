import * as grpc from '@grpc/grpc-js';
import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { chunkHandle, chunkVersion, type ChunkHandle } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { RefusedSessionRequest, SessionServer, sessionError } from '../common/session-server.js';
import { requireInteger } from '../common/wire-validation.js';
import type { SessionRead__Output } from '../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer } from '../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { heldReplica, notHeld } from './data-service.js';
import { handleCorruption } from './replica-problems.js';

/** Each read is counted as the Read call it replaces, so the figures do not depend on how it travelled. */
const READ_PATH = '/dfs.chunk.ChunkData/Read';

export interface ReadSessionsOptions {
  /** One read as a Read call: gRPC status, DfsError code, seconds (GrpcServerMetrics.record). */
  record?: (path: string, code: grpc.status, dfsCode: string | undefined, seconds: number) => void;
}

type Request = SessionRead__Output | RefusedSessionRequest;

/**
 * ChunkData.ReadSession: small client reads as messages on one stream per
 * client. Each is served exactly as a client's Read call is (a replica
 * offered here at the version or newer, clipped to its durable length,
 * verified, counted toward the chunk's heat) and answered in one message.
 * Its chunk access token was checked per message by the interceptor, which
 * hands a refused read over as a RefusedSessionRequest.
 */
export class ReadSessions {
  private readonly server = new SessionServer<Request, SessionReadAnswer>({ inFlightMax: LIMITS.readSessionInFlightMax });

  constructor(
    private readonly ctx: ChunkserverContext,
    private readonly options: ReadSessionsOptions = {},
  ) {}

  handler(): grpc.handleBidiStreamingCall<Request, SessionReadAnswer> {
    return this.server.handler((request) => this.answer(request));
  }

  endAll(): void {
    this.server.endAll('this chunkserver is stopping');
  }

  private async answer(request: Request): Promise<SessionReadAnswer> {
    const startedAt = performance.now();
    let handle: ChunkHandle | undefined;
    this.ctx.load.activeReads++;
    try {
      if (request instanceof RefusedSessionRequest) throw request.error;
      handle = chunkHandle(requireInteger(request.handle, 'handle'));
      const version = chunkVersion(requireInteger(request.version, 'version'));
      const offset = requireInteger(request.offset, 'offset');
      if (request.length > LIMITS.sessionReadMaxBytes) {
        throw new DfsError('TOO_LARGE', `a session read is at most ${LIMITS.sessionReadMaxBytes} bytes, not ${request.length}: use Read`);
      }
      const replica = heldReplica(this.ctx, handle, version);
      if (replica === undefined) throw notHeld(this.ctx, handle, version);
      this.ctx.heat.record(handle);
      const end = Math.min(offset + request.length, replica.chunkLength);
      const data = offset < end ? await this.ctx.store.read(handle, offset, end - offset, replica.epoch) : Buffer.alloc(0);
      this.ctx.metrics.clientReadBytes.inc(data.length);
      this.options.record?.(READ_PATH, grpc.status.OK, undefined, (performance.now() - startedAt) / 1000);
      return { id: request.id, data, dataCrc32c: crc32c(data) };
    } catch (err) {
      if (handle !== undefined && isDfsError(err, 'CHECKSUM_MISMATCH')) void handleCorruption(this.ctx, handle);
      const error = sessionError(err);
      if (error.code === 'INTERNAL') this.ctx.logger.error({ err }, 'internal error in a session read');
      this.options.record?.(READ_PATH, err instanceof DfsError ? err.grpcStatus : grpc.status.INTERNAL, error.code, (performance.now() - startedAt) / 1000);
      return { id: request.id, error: { code: error.code, message: error.message } };
    } finally {
      this.ctx.load.activeReads--;
    }
  }
}
