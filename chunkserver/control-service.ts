import * as grpc from '@grpc/grpc-js';
import { DfsError, isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import { unary } from '../common/grpc-server.js';
import { crc32c } from '../common/crc32c.js';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion } from '../common/ids.js';
import { requireAddress, requireId, requireInteger } from '../common/wire-validation.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { GrantLeaseRequest__Output } from '../proto/generated/dfs/chunk/GrantLeaseRequest.js';
import type { GrantLeaseResponse } from '../proto/generated/dfs/chunk/GrantLeaseResponse.js';
import type { CopyChunkRequest__Output } from '../proto/generated/dfs/chunk/CopyChunkRequest.js';
import type { CopyChunkResponse } from '../proto/generated/dfs/chunk/CopyChunkResponse.js';
import type { ReadResponse__Output } from '../proto/generated/dfs/chunk/ReadResponse.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { PrimaryChunk } from './primary-chunk.js';
import { ReplicaPipeline } from './replica-pipeline.js';
import { commitLocal, ctxPipelineDeps, prepareLocal } from './replication-service.js';
import { READ_PURPOSE_KEY } from './data-service.js';

const PEER_TIMEOUT_MS = 5_000;
const COPY_STALL_MS = 30_000;
const COPY_WRITES_IN_FLIGHT = 8;

/** RPCs from the master: make this server a chunk's primary, or copy a chunk here. */
export function controlHandlers(ctx: ChunkserverContext) {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a control handler');
  return {
    GrantLease: unary<GrantLeaseRequest__Output, GrantLeaseResponse>(async (req) => {
      const receivedAtMs = ctx.clock.nowMs();
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const secondaries = req.secondaries.map(checkRef);
      const length = await ctx.chunkLocks.run(handle, () =>
        becomePrimary(ctx, { handle, version, minVersion, secondaries, receivedAtMs, durationMs: req.leaseDurationMs }),
      );
      return { length: String(length) };
    }, onInternal),

    CopyChunk: unary<CopyChunkRequest__Output, CopyChunkResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const sources = req.sources.map(checkRef);
      const copied = await ctx.chunkLocks.run(handle, () => copyChunk(ctx, handle, minVersion, sources));
      return { length: String(copied.length), version: String(copied.version) };
    }, onInternal),

    Distribute: unary(async () => {
      throw new DfsError('UNAVAILABLE', 'distribution is not served yet');
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

/**
 * Pulls a chunk from the first source that can serve it, verifying every
 * frame, and offers it only once complete and durable. A replica already
 * here at an acceptable version is kept as it is.
 */
async function copyChunk(
  ctx: ChunkserverContext,
  handle: ChunkHandle,
  minVersion: ChunkVersion,
  sources: ServerRef__Output[],
): Promise<{ length: number; version: ChunkVersion }> {
  const existing = ctx.store.info(handle);
  if (existing !== undefined && !existing.corrupt && existing.version >= minVersion && ctx.inventory.version(handle) !== undefined) {
    return { length: existing.durableLength, version: existing.version };
  }
  if (existing !== undefined) await ctx.inventory.remove(handle);
  ctx.load.activeCopies++;
  try {
    let lastError: unknown;
    for (const source of sources) {
      try {
        return await copyFrom(ctx, handle, minVersion, source);
      } catch (err) {
        lastError = err;
        ctx.logger.warn({ handle, source: source.address, err: (err as Error).message }, 'copy from source failed');
        if (ctx.store.info(handle) !== undefined) await ctx.store.delete(handle);
      }
    }
    throw new DfsError('UNAVAILABLE', `no source could provide chunk ${handle}`, { cause: lastError });
  } finally {
    ctx.load.activeCopies--;
  }
}

async function copyFrom(
  ctx: ChunkserverContext,
  handle: ChunkHandle,
  minVersion: ChunkVersion,
  source: ServerRef__Output,
): Promise<{ length: number; version: ChunkVersion }> {
  const purpose = new grpc.Metadata();
  purpose.set(READ_PURPOSE_KEY, 'copy');
  const stream = ctx.peerData(source.address).Read(
    { handle: String(handle), version: String(minVersion), offset: '0', length: String(ctx.chunkSizeBytes()) },
    purpose,
    { deadline: Date.now() + COPY_STALL_MS * 4 },
  );
  let version: ChunkVersion | undefined;
  let expectedLength = 0;
  let position = 0;
  // A window of writes in flight: the disk keeps pace without the copy buffering the chunk.
  const writes: Promise<void>[] = [];
  try {
    for await (const frame of stream as AsyncIterable<ReadResponse__Output>) {
      if (version === undefined) {
        version = chunkVersion(requireInteger(frame.version, 'version'));
        if (version < minVersion) throw new DfsError('STALE_VERSION', `source is at version ${version}, below ${minVersion}`);
        expectedLength = requireInteger(frame.chunkLength, 'chunk_length');
        await ctx.store.create(handle, version, { importing: true });
      }
      if (requireInteger(frame.offset, 'offset') !== position && frame.data.length > 0) {
        throw new DfsError('INVALID_ARGUMENT', `source sent offset ${frame.offset}, expected ${position}`);
      }
      if (crc32c(frame.data) !== frame.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'copied frame failed its checksum');
      if (frame.data.length > 0) {
        const written = ctx.store.write(handle, position, frame.data);
        written.catch(() => undefined);
        writes.push(written);
        ctx.metrics.copyInBytes.inc(frame.data.length);
        if (writes.length >= COPY_WRITES_IN_FLIGHT) await writes.shift();
      }
      position += frame.data.length;
    }
  } catch (err) {
    throw isDfsError(err) ? err : fromGrpcError(err);
  }
  await Promise.all(writes);
  if (version === undefined) throw new DfsError('UNAVAILABLE', 'source sent nothing');
  if (position !== expectedLength) throw new DfsError('UNAVAILABLE', `copied ${position} of ${expectedLength} bytes`);
  await ctx.store.sync(handle);
  await ctx.inventory.finishImport(handle, version);
  ctx.logger.info({ handle, version, length: position, source: source.address }, 'chunk copied');
  return { length: position, version };
}

function checkRef(ref: ServerRef__Output): ServerRef__Output {
  return {
    id: serverId(requireId(ref.id, 'server id')),
    address: requireAddress(ref.address, 'server address'),
    zone: ref.zone,
    rack: ref.rack,
  };
}
