import type * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { LIMITS } from '../common/limits.js';
import { SessionServer, type RefusedSessionRequest } from '../common/session-server.js';
import type { SessionAppend__Output } from '../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer } from '../proto/generated/dfs/chunk/SessionAppendAnswer.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { appendRecord } from './data-service.js';

/**
 * ChunkData.AppendSession: record appends as messages on one stream per
 * client and primary, each served exactly as an Append call is (same
 * checks, same deduplication by client id and sequence) and answered once
 * durable on every replica; the metrics count it as an Append call. Its
 * chunk access token was checked per message by the interceptor, which
 * hands a refused append over as a RefusedSessionRequest.
 */
export class AppendSessions {
  private readonly server: SessionServer<SessionAppend__Output, SessionAppendAnswer>;

  constructor(
    private readonly ctx: ChunkserverContext,
    metrics?: GrpcServerMetrics,
  ) {
    this.server = new SessionServer({
      inFlightMax: LIMITS.appendSessionInFlightMax,
      metrics,
      pathOf: () => '/dfs.chunk.ChunkData/Append',
      onInternal: (err) => ctx.logger.error({ err }, 'internal error in a session append'),
    });
  }

  handler(): grpc.handleBidiStreamingCall<SessionAppend__Output | RefusedSessionRequest, SessionAppendAnswer> {
    return this.server.handler(
      (request) => this.append(request),
      (id, error) => ({ id, error: { code: error.code, message: error.message } }),
    );
  }

  endAll(): void {
    this.server.endAll('this chunkserver is stopping');
  }

  private async append(request: SessionAppend__Output): Promise<SessionAppendAnswer> {
    if (request.append === null) throw new DfsError('INVALID_ARGUMENT', 'a session append carries its record');
    return { id: request.id, offset: String(await appendRecord(this.ctx, request.append)) };
  }
}
