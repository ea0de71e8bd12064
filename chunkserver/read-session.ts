import type * as grpc from '@grpc/grpc-js';
import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { chunkHandle, chunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { SessionServer, type RefusedSessionRequest } from '../common/session-server.js';
import { requireInteger } from '../common/wire-validation.js';
import type { SessionRead__Output } from '../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer } from '../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { heldReplica, notHeld } from './data-service.js';
import { handleCorruption } from './replica-problems.js';

/**
 * ChunkData.ReadSession: small client reads as messages on one stream per
 * client. Each is served exactly as a client's Read call is (a replica
 * offered here at the version or newer, clipped to its durable length,
 * verified, counted toward the chunk's heat) and answered in one message;
 * the metrics count it as a Read call. Its chunk access token was checked
 * per message by the interceptor, which hands a refused read over as a
 * RefusedSessionRequest.
 */
export class ReadSessions {
  private readonly server: SessionServer<SessionRead__Output, SessionReadAnswer>;

  constructor(
    private readonly ctx: ChunkserverContext,
    metrics?: GrpcServerMetrics,
  ) {
    this.server = new SessionServer({
      inFlightMax: LIMITS.readSessionInFlightMax,
      metrics,
      pathOf: () => '/dfs.chunk.ChunkData/Read',
      onInternal: (err) => ctx.logger.error({ err }, 'internal error in a session read'),
    });
  }

  handler(): grpc.handleBidiStreamingCall<SessionRead__Output | RefusedSessionRequest, SessionReadAnswer> {
    return this.server.handler(
      (read) => this.read(read),
      (id, error) => ({ id, error: { code: error.code, message: error.message } }),
    );
  }

  endAll(): void {
    this.server.endAll('this chunkserver is stopping');
  }

  private async read(request: SessionRead__Output): Promise<SessionReadAnswer> {
    const handle = chunkHandle(requireInteger(request.handle, 'handle'));
    this.ctx.load.activeReads++;
    try {
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
      return { id: request.id, data, dataCrc32c: crc32c(data) };
    } catch (err) {
      if (isDfsError(err, 'CHECKSUM_MISMATCH')) void handleCorruption(this.ctx, handle);
      throw err;
    } finally {
      this.ctx.load.activeReads--;
    }
  }
}
