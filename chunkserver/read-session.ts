import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { chunkHandle, chunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { requireInteger } from '../common/wire-validation.js';
import type { SessionRead__Output } from '../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer } from '../proto/generated/dfs/chunk/SessionReadAnswer.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { ChunkSessions } from './chunk-sessions.js';
import { heldReplica, notHeld } from './data-service.js';
import { handleCorruption } from './replica-problems.js';

/**
 * ChunkData.ReadSession: small client reads as messages on one stream per
 * client. Each is served exactly as a client's Read call is (a replica
 * offered here at the version or newer, clipped to its durable length,
 * verified, counted toward the chunk's heat) and answered in one message.
 */
export function readSessions(ctx: ChunkserverContext, metrics?: GrpcServerMetrics): ChunkSessions<SessionRead__Output, SessionReadAnswer> {
  return new ChunkSessions(ctx, metrics, {
    call: 'Read',
    inFlightMax: LIMITS.readSessionInFlightMax,
    serve: (request) => read(ctx, request),
  });
}

async function read(ctx: ChunkserverContext, request: SessionRead__Output): Promise<SessionReadAnswer> {
  const handle = chunkHandle(requireInteger(request.handle, 'handle'));
  ctx.load.activeReads++;
  try {
    const version = chunkVersion(requireInteger(request.version, 'version'));
    const offset = requireInteger(request.offset, 'offset');
    if (request.length > LIMITS.sessionReadMaxBytes) {
      throw new DfsError('TOO_LARGE', `a session read is at most ${LIMITS.sessionReadMaxBytes} bytes, not ${request.length}: use Read`);
    }
    const replica = heldReplica(ctx, handle, version);
    if (replica === undefined) throw notHeld(ctx, handle, version);
    ctx.heat.record(handle);
    const end = Math.min(offset + request.length, replica.chunkLength);
    const data = offset < end ? await ctx.store.read(handle, offset, end - offset, replica.epoch) : Buffer.alloc(0);
    ctx.metrics.clientReadBytes.inc(data.length);
    return { id: request.id, data, dataCrc32c: crc32c(data) };
  } catch (err) {
    if (isDfsError(err, 'CHECKSUM_MISMATCH')) void handleCorruption(ctx, handle);
    throw err;
  } finally {
    ctx.load.activeReads--;
  }
}
