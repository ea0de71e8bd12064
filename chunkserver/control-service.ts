import { DfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import { unary } from '../common/grpc-server.js';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { requireAddress, requireId, requireInteger } from '../common/wire-validation.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { GrantLeaseRequest__Output } from '../proto/generated/dfs/chunk/GrantLeaseRequest.js';
import type { GrantLeaseResponse } from '../proto/generated/dfs/chunk/GrantLeaseResponse.js';
import type { CopyChunkRequest__Output } from '../proto/generated/dfs/chunk/CopyChunkRequest.js';
import type { CopyChunkResponse } from '../proto/generated/dfs/chunk/CopyChunkResponse.js';
import type { DistributeRequest__Output } from '../proto/generated/dfs/chunk/DistributeRequest.js';
import type { DistributeResponse } from '../proto/generated/dfs/chunk/DistributeResponse.js';
import type { ReleaseWhenIdleRequest__Output } from '../proto/generated/dfs/chunk/ReleaseWhenIdleRequest.js';
import type { ReleaseWhenIdleResponse } from '../proto/generated/dfs/chunk/ReleaseWhenIdleResponse.js';
import type { DistributionTask__Output } from '../proto/generated/dfs/chunk/DistributionTask.js';
import { fetchChunk } from './chunk-fetch.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import type { DistributionAgent, DistributionTaskSpec } from './distribution-agent.js';
import { PrimaryChunk } from './primary-chunk.js';
import { ReplicaPipeline } from './replica-pipeline.js';
import { commitLocal, ctxPipelineDeps, prepareLocal } from './replication-service.js';

const PEER_TIMEOUT_MS = 5_000;

/** RPCs from the master: make this server a chunk's primary, copy a chunk here, or fetch chunks of the distribution tier. */
export function controlHandlers(ctx: ChunkserverContext, distribution: DistributionAgent) {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a control handler');
  return {
    GrantLease: unary<GrantLeaseRequest__Output, GrantLeaseResponse>(async (req) => {
      const receivedAtMs = ctx.clock.nowMs();
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const secondaries = req.secondaries.map(checkRef);
      const length = await ctx.chunkLocks.run(handle, () =>
        becomePrimary(ctx, { handle, version, minVersion, secondaries, receivedAtMs, durationMs: req.leaseDurationMs, idleReleaseMs: req.idleReleaseMs }),
      );
      return { length: String(length) };
    }, onInternal),

    // Re-replication: a whole, durable replica, resuming on the next source (or a delta over an older one here).
    CopyChunk: unary<CopyChunkRequest__Output, CopyChunkResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const sources = req.sources.map(checkRef);
      const copied = await fetchChunk(ctx, { handle, version: minVersion, sources, follow: false, keepPartial: false });
      return { length: String(copied.length), version: String(copied.version) };
    }, onInternal),

    ReleaseWhenIdle: unary<ReleaseWhenIdleRequest__Output, ReleaseWhenIdleResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const ms = requireInteger(req.idleReleaseMs, 'idle_release_ms');
      if (ms <= 0 || ms > LIMITS.idleReleaseMsMax) throw new DfsError('INVALID_ARGUMENT', `idle_release_ms ${ms} must be 1 to ${LIMITS.idleReleaseMsMax}`);
      const primary = ctx.pipelines.primary(handle);
      if (primary === undefined || primary.version !== version) return { primary: false };
      primary.releaseWhenIdle(ms);
      return { primary: true };
    }, onInternal),

    Distribute: unary<DistributeRequest__Output, DistributeResponse>(async (req) => {
      if (req.tasks.length + req.cancel.length > LIMITS.distributionTasksMax) {
        throw new DfsError('TOO_LARGE', `a Distribute call may name at most ${LIMITS.distributionTasksMax} chunks`);
      }
      const tasks = req.tasks.map(checkTask);
      const cancel = req.cancel.map((h) => chunkHandle(requireInteger(h, 'cancel')));
      distribution.distribute(tasks, cancel);
      return {};
    }, onInternal),
  };
}

/**
 * Brings every replica to `version` at the length they all have durable
 * (bytes past it were never acknowledged to any client), then takes the
 * lease. Fails with CHAIN_FAILURE naming the replicas that did not make it:
 * the master then bumps again without them.
 */
async function becomePrimary(
  ctx: ChunkserverContext,
  grant: {
    handle: ChunkHandle;
    version: ChunkVersion;
    minVersion: ChunkVersion;
    secondaries: ServerRef__Output[];
    receivedAtMs: number;
    durationMs: number;
    idleReleaseMs: number;
  },
): Promise<number> {
  const { handle, version, minVersion, secondaries } = grant;
  const local = await prepareLocal(ctx, handle, minVersion, version);
  const prepared = await Promise.allSettled(
    secondaries.map((s) =>
      callUnary(
        ctx.peerReplication(s.address),
        'PrepareVersion',
        { handle: String(handle), minVersion: String(minVersion), version: String(version) },
        PEER_TIMEOUT_MS,
      ),
    ),
  );
  throwIfAnyFailed(prepared, secondaries, 'prepare');
  const lengths = prepared.map((p) => Number((p as PromiseFulfilledResult<{ length: string }>).value.length));
  const length = Math.min(local.length, ...lengths);
  await commitLocal(ctx, handle, local.version, version, length);
  const committed = await Promise.allSettled(
    secondaries.map((s) =>
      callUnary(
        ctx.peerReplication(s.address),
        'CommitVersion',
        { handle: String(handle), minVersion: String(minVersion), version: String(version), length: String(length) },
        PEER_TIMEOUT_MS,
      ),
    ),
  );
  throwIfAnyFailed(committed, secondaries, 'commit');
  const pipeline = new ReplicaPipeline(ctxPipelineDeps(ctx), handle, version, secondaries);
  const primary = new PrimaryChunk(
    ctx.store,
    handle,
    version,
    pipeline,
    length,
    grant.receivedAtMs + grant.durationMs,
    grant.durationMs,
    ctx.chunkSizeBytes(),
    ctx.clock,
    (length) =>
      ctx.master.commitChunkLength({
        serverId: ctx.self().id,
        handle: String(handle),
        version: String(version),
        length: String(length),
      }),
    { releaseMs: grant.idleReleaseMs, onRelease: (p) => void releaseIdleLease(ctx, p) },
  );
  pipeline.onFailure((err) => void releaseBrokenLease(ctx, primary, err));
  await ctx.pipelines.replace(handle, { pipeline, primary }, new DfsError('STALE_VERSION', `chunk ${handle} has a new lease`));
  ctx.logger.debug({ handle, version, length, secondaries: secondaries.map((s) => s.id) }, 'became primary');
  return length;
}

function throwIfAnyFailed(results: PromiseSettledResult<unknown>[], servers: ServerRef__Output[], step: string): void {
  const failed = servers.filter((_, i) => results[i]!.status === 'rejected');
  if (failed.length === 0) return;
  const reasons = results.flatMap((r) => (r.status === 'rejected' ? [fromGrpcError(r.reason).message] : []));
  throw new DfsError('CHAIN_FAILURE', `${step} failed on ${failed.map((s) => s.address).join(', ')}: ${reasons.join('; ')}`, {
    details: { failedServerIds: failed.map((s) => s.id) },
  });
}

/** Nothing was written for a while: give the lease back so that the master may copy and distribute the chunk now. */
async function releaseIdleLease(ctx: ChunkserverContext, primary: PrimaryChunk): Promise<void> {
  await ctx.pipelines.retire(primary.handle, primary.pipeline, new DfsError('LEASE_EXPIRED', `lease on chunk ${primary.handle} given up while idle`));
  try {
    await ctx.master.releaseLease({ serverId: ctx.self().id, handle: String(primary.handle), version: String(primary.version) });
    ctx.logger.debug({ handle: primary.handle, version: primary.version }, 'idle lease released');
  } catch (err) {
    // The master lets the lease run out instead.
    ctx.logger.warn({ handle: primary.handle, err: (err as Error).message }, 'could not report an idle lease released');
  }
}

/** A pipeline broke: give the lease back so the master can grant a new one without the failed replicas. */
async function releaseBrokenLease(ctx: ChunkserverContext, primary: PrimaryChunk, err: DfsError): Promise<void> {
  await ctx.pipelines.retire(primary.handle, primary.pipeline, err);
  try {
    await ctx.master.reportProblem({
      serverId: ctx.self().id,
      handle: String(primary.handle),
      version: String(primary.version),
      problem: 'REPLICA_PROBLEM_CHAIN_FAILURE',
      failedServerIds: [...(err.details.failedServerIds ?? [])],
      leaseReleased: true,
    });
  } catch (reportError) {
    ctx.logger.warn({ handle: primary.handle, err: (reportError as Error).message }, 'could not report a broken pipeline');
  }
}

function checkTask(task: DistributionTask__Output): DistributionTaskSpec {
  const version = chunkVersion(requireInteger(task.version, 'task.version'));
  if (version === 0) throw new DfsError('INVALID_ARGUMENT', 'a distribution task needs a version');
  if (task.sources.length === 0 || task.sources.length > LIMITS.distributionSourcesMax) {
    throw new DfsError('INVALID_ARGUMENT', `a distribution task names 1 to ${LIMITS.distributionSourcesMax} sources`);
  }
  return {
    handle: chunkHandle(requireInteger(task.handle, 'task.handle')),
    version,
    sources: task.sources.map(checkRef),
    order: requireInteger(task.order, 'task.order'),
  };
}

function checkRef(ref: ServerRef__Output): ServerRef__Output {
  return {
    id: serverId(requireId(ref.id, 'server id')),
    address: requireAddress(ref.address, 'server address'),
    zone: ref.zone,
    rack: ref.rack,
  };
}
