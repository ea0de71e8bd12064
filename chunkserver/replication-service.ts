import type * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import { failStream, unary } from '../common/grpc-server.js';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion } from '../common/ids.js';
import { requireAddress, requireId, requireInteger } from '../common/wire-validation.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { WriteAck } from '../proto/generated/dfs/chunk/WriteAck.js';
import type { PrepareVersionRequest__Output } from '../proto/generated/dfs/chunk/PrepareVersionRequest.js';
import type { PrepareVersionResponse } from '../proto/generated/dfs/chunk/PrepareVersionResponse.js';
import type { CommitVersionRequest__Output } from '../proto/generated/dfs/chunk/CommitVersionRequest.js';
import type { CommitVersionResponse } from '../proto/generated/dfs/chunk/CommitVersionResponse.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import type { RawFrame } from '../proto/pipeline-frames.js';
import { validatePacket } from './packet-validation.js';
import { ReplicaPipeline, type PipelineDeps } from './replica-pipeline.js';
import { StreamAcks } from './stream-acks.js';

/**
 * Chunkserver-to-chunkserver RPCs: a secondary's end of the write pipeline,
 * and the two steps by which a new primary brings the replicas to a new
 * version and a common length.
 */
export function replicationHandlers(ctx: ChunkserverContext) {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a replication handler');
  return {
    Pipeline: (call: grpc.ServerDuplexStream<RawFrame, WriteAck>) => serveSecondary(ctx, call),

    PrepareVersion: unary<PrepareVersionRequest__Output, PrepareVersionResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      return ctx.chunkLocks.run(handle, async () => {
        const prepared = await prepareLocal(ctx, handle, minVersion, version);
        return { length: String(prepared.length), version: String(prepared.version) };
      });
    }, onInternal),

    CommitVersion: unary<CommitVersionRequest__Output, CommitVersionResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const minVersion = chunkVersion(requireInteger(req.minVersion, 'min_version'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const length = requireInteger(req.length, 'length');
      await ctx.chunkLocks.run(handle, () => commitLocal(ctx, handle, minVersion, version, length));
      return {};
    }, onInternal),
  };
}

/**
 * Step one of a new lease on this replica: check that it may take part, and
 * report its durable length. A new chunk (min version 0) is created empty.
 * Callers hold the chunk's lock.
 */
export async function prepareLocal(
  ctx: ChunkserverContext,
  handle: ChunkHandle,
  minVersion: ChunkVersion,
  version: ChunkVersion,
): Promise<{ length: number; version: ChunkVersion }> {
  if (version <= minVersion) throw new DfsError('INVALID_ARGUMENT', 'the new version must exceed the minimum version');
  let info = ctx.store.info(handle);
  if (info === undefined && minVersion === 0) {
    await ctx.inventory.createEmpty(handle);
    info = ctx.store.info(handle);
  }
  if (info === undefined || ctx.inventory.version(handle) === undefined) {
    throw new DfsError('NOT_FOUND', `no replica of chunk ${handle} here`);
  }
  if (info.corrupt) throw new DfsError('CHECKSUM_MISMATCH', `replica of chunk ${handle} is corrupt`);
  if (info.version < minVersion || info.version >= version) {
    throw new DfsError('STALE_VERSION', `replica of chunk ${handle} is at version ${info.version}, outside [${minVersion}, ${version})`);
  }
  return { length: info.durableLength, version: info.version };
}

/**
 * Step two: close whatever pipeline the old version had (none of its writes
 * can land after this), adopt the new version and cut to the common length.
 * Repeating a commit that already happened succeeds. Callers hold the lock.
 */
export async function commitLocal(
  ctx: ChunkserverContext,
  handle: ChunkHandle,
  minVersion: ChunkVersion,
  version: ChunkVersion,
  length: number,
): Promise<void> {
  const info = ctx.store.info(handle);
  if (info === undefined) throw new DfsError('NOT_FOUND', `no replica of chunk ${handle} here`);
  if (info.version === version && info.durableLength === length) return;
  if (info.version < minVersion || info.version >= version) {
    throw new DfsError('STALE_VERSION', `replica of chunk ${handle} is at version ${info.version}, outside [${minVersion}, ${version})`);
  }
  await ctx.pipelines.replace(handle, undefined, new DfsError('STALE_VERSION', `chunk ${handle} moved to version ${version}`));
  const durable = ctx.store.info(handle)!.durableLength;
  if (length > durable) {
    throw new DfsError('INVALID_ARGUMENT', `common length ${length} is past this replica's durable length ${durable}`);
  }
  await ctx.inventory.commitVersion(handle, info.version, version, length);
}

function serveSecondary(ctx: ChunkserverContext, call: grpc.ServerDuplexStream<RawFrame, WriteAck>): void {
  let pipeline: ReplicaPipeline | undefined;
  let handle: ChunkHandle | undefined;
  // Packets are submitted in arrival order, after the header has installed the pipeline.
  let order: Promise<void> = Promise.resolve();
  let failed = false;
  let ended = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    failStream(call, err);
    if (pipeline !== undefined && handle !== undefined) {
      void ctx.pipelines.retire(handle, pipeline, new DfsError('UNAVAILABLE', 'pipeline stream failed'));
    }
  };
  const acks = new StreamAcks(call, () => failed, fail);
  call.on('data', (raw: RawFrame) => {
    if (failed) return;
    const frame = raw.frame;
    if (frame === undefined) return fail(new DfsError('INVALID_ARGUMENT', 'malformed pipeline frame'));
    if (handle === undefined) {
      if (frame.frame !== 'header' || !frame.header) return fail(new DfsError('INVALID_ARGUMENT', 'a pipeline starts with a header'));
      const header = frame.header;
      try {
        handle = chunkHandle(requireInteger(header.handle, 'header.handle'));
        const version = chunkVersion(requireInteger(header.version, 'header.version'));
        const chain = header.chain.map(checkServerRef);
        const h = handle;
        order = ctx.chunkLocks.run(h, async () => {
          const info = ctx.store.info(h);
          if (info === undefined || ctx.inventory.version(h) === undefined) throw new DfsError('NOT_FOUND', `no replica of chunk ${h} here`);
          if (info.version !== version) {
            throw new DfsError('STALE_VERSION', `replica of chunk ${h} is at version ${info.version}, not ${version}`);
          }
          pipeline = new ReplicaPipeline(ctxPipelineDeps(ctx), h, version, chain);
          await ctx.pipelines.replace(h, { pipeline, primary: undefined }, new DfsError('STALE_VERSION', 'replaced by a newer pipeline'));
        });
        order.catch(fail);
      } catch (err) {
        fail(err);
      }
      return;
    }
    if (frame.frame !== 'packet' || !frame.packet) return fail(new DfsError('INVALID_ARGUMENT', 'only one header per pipeline'));
    const packet = frame.packet;
    order = order.then(() => {
      if (failed) return;
      const valid = validatePacket(packet, ctx.chunkSizeBytes());
      void acks.track(pipeline!.submit(raw.bytes, valid), pipeline!);
    });
    order.catch(fail);
  });
  call.on('end', () => {
    if (ended) return;
    ended = true;
    void order
      .then(() => pipeline?.finish())
      .then(() => {
        if (!failed) call.end();
        if (pipeline !== undefined && handle !== undefined) {
          void ctx.pipelines.retire(handle, pipeline, new DfsError('UNAVAILABLE', 'pipeline finished'));
        }
      }, fail);
  });
  call.on('cancelled', () => fail(new DfsError('UNAVAILABLE', 'upstream went away')));
}

function checkServerRef(ref: ServerRef__Output): ServerRef__Output {
  return {
    id: requireId(ref.id, 'chain.id'),
    address: requireAddress(ref.address, 'chain.address'),
    zone: ref.zone,
    rack: ref.rack,
  };
}

export function ctxPipelineDeps(ctx: ChunkserverContext): PipelineDeps {
  return {
    store: ctx.store,
    peer: (address: string) => ctx.peerPipeline(address),
    selfId: serverId(ctx.self().id),
    logger: ctx.logger,
    writtenBytes: ctx.metrics.pipelineWrittenBytes,
  };
}
