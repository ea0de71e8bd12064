import { DfsError } from '../common/errors.js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { LIMITS } from '../common/limits.js';
import type { SessionAppend__Output } from '../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer } from '../proto/generated/dfs/chunk/SessionAppendAnswer.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { ChunkSessions } from './chunk-sessions.js';
import { appendRecord } from './data-service.js';

/**
 * ChunkData.AppendSession: record appends as messages on one stream per
 * client and primary, each served exactly as an Append call is (same
 * checks, same deduplication by client id and sequence) and answered once
 * durable on every replica.
 */
export function appendSessions(ctx: ChunkserverContext, metrics?: GrpcServerMetrics): ChunkSessions<SessionAppend__Output, SessionAppendAnswer> {
  return new ChunkSessions(ctx, metrics, {
    call: 'Append',
    inFlightMax: LIMITS.appendSessionInFlightMax,
    serve: async (request) => {
      if (request.append === null) throw new DfsError('INVALID_ARGUMENT', 'a session append carries its record');
      return { id: request.id, offset: String(await appendRecord(ctx, request.append)) };
    },
  });
}
