import { DfsError } from '../common/errors.js';
import { chunkHandle, inodeId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { unary } from '../common/grpc-server.js';
import type { MetadataHandlers } from '../proto/generated/dfs/master/Metadata.js';
import type { GetChunksResponse } from '../proto/generated/dfs/master/GetChunksResponse.js';
import type { ChunkLocation } from '../proto/generated/dfs/ChunkLocation.js';
import { toWireAttr } from './attr.js';
import { serverRef } from './lease-manager.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import { usableReplicas } from './replica-views.js';
import { requireMode, requirePath, requireRequestId } from './request-validation.js';
import { requireInteger } from '../common/wire-validation.js';
import type { ApplyValue, AttrView, ChunkView } from './state-machine.js';
import type { OpResult } from '../proto/generated/dfs/master/OpResult.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import { batchSubEntry, changesReplication, opAttr, opError, opResultOf, readOpPath } from './batch-ops.js';
import { BatchProposer } from './batch-proposer.js';
import { BATCH_ENTRY_OVERHEAD_BYTES, encodeBatchBody } from './log-entry.js';

/**
 * Client metadata RPCs. Each handler checks that this master leads (a
 * follower answers NOT_LEADER naming the leader), checks its input, proposes
 * one log entry or reads the state machine behind a read barrier, and maps
 * the outcome: nothing more. Errors leave as typed statuses (unary()).
 */
export function metadataHandlers(ctx: MasterContext): MetadataHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a metadata handler');
  const now = () => String(ctx.clock.wallUs());
  const attrResponse = (value: ApplyValue) => ({ attr: toWireAttr(attrOf(value)) });
  // Batch calls that arrive while one is on its way through the log share the next entry.
  const batches = new BatchProposer((entry) => ctx.log.propose(entry), () => ctx.clock.wallUs());

  return {
    Mkdir: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        mkdir: { path: requirePath(req.path), mode: requireMode(req.mode), uid: req.uid, gid: req.gid, parents: req.parents },
      });
      return attrResponse(value);
    }, onInternal),

    Create: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      if (req.replication > LIMITS.replicationMax) {
        throw new DfsError('INVALID_ARGUMENT', `replication must be at most ${LIMITS.replicationMax} (or all)`);
      }
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        create: {
          path: requirePath(req.path),
          mode: requireMode(req.mode),
          uid: req.uid,
          gid: req.gid,
          exclusive: req.exclusive,
          replication: req.replication,
          replicateAll: req.replicateAll,
        },
      });
      return attrResponse(value);
    }, onInternal),

    Stat: unary(async (req) => {
      ctx.leader();
      requirePath(req.path);
      await ctx.log.readBarrier();
      return { attr: toWireAttr(ctx.state().stat(req.path)) };
    }, onInternal),

    List: unary(async (req) => {
      ctx.leader();
      requirePath(req.path);
      const limit = req.limit === 0 ? LIMITS.listPageMax : Math.min(req.limit, LIMITS.listPageMax);
      await ctx.log.readBarrier();
      const page = ctx.state().list(req.path, req.startAfter, limit);
      return {
        entries: page.entries.map((e) => ({ name: e.name, attr: toWireAttr(e.attr) })),
        hasMore: page.hasMore,
      };
    }, onInternal),

    Delete: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      await ctx.propose({ timeUs: now(), requestId, delete: { path: requirePath(req.path), recursive: req.recursive } });
      return {};
    }, onInternal),

    Rename: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      await ctx.propose({
        timeUs: now(),
        requestId,
        rename: {
          source: requirePath(req.source, 'source'),
          destination: requirePath(req.destination, 'destination'),
          noReplace: req.noReplace,
        },
      });
      return {};
    }, onInternal),

    SetAttr: unary(async (req) => {
      const leader = ctx.leader();
      const requestId = requireRequestId(req.requestId);
      if (req.mode !== undefined) requireMode(req.mode);
      if (req.replication !== undefined && (req.replication < 1 || req.replication > LIMITS.replicationMax)) {
        throw new DfsError('INVALID_ARGUMENT', `replication must be between 1 and ${LIMITS.replicationMax} (or all)`);
      }
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        setAttr: {
          path: requirePath(req.path),
          ...(req.mode !== undefined ? { mode: req.mode } : {}),
          ...(req.uid !== undefined ? { uid: req.uid } : {}),
          ...(req.gid !== undefined ? { gid: req.gid } : {}),
          ...(req.atimeUs !== undefined ? { atimeUs: req.atimeUs } : {}),
          ...(req.mtimeUs !== undefined ? { mtimeUs: req.mtimeUs } : {}),
          ...(req.replication !== undefined ? { replication: req.replication } : {}),
          ...(req.replicateAll !== undefined ? { replicateAll: req.replicateAll } : {}),
        },
      });
      if (req.replication !== undefined || req.replicateAll !== undefined) {
        const attr = attrOf(value);
        ctx.state().forEachChunkOf(attr.inode, (handle) => leader.replication.mark(handle));
      }
      return attrResponse(value);
    }, onInternal),

    Truncate: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        truncate: { inode: String(requireInteger(req.inode, 'inode')), size: String(requireInteger(req.size, 'size')) },
      });
      return attrResponse(value);
    }, onInternal),

    GetChunks: unary(async (req) => {
      const leader = ctx.leader();
      const inode = inodeId(requireInteger(req.inode, 'inode'));
      const first = requireInteger(req.firstIndex, 'first_index');
      const count = req.count === 0 ? LIMITS.chunksPageMax : Math.min(req.count, LIMITS.chunksPageMax);
      await ctx.log.readBarrier();
      const page = ctx.state().getChunks(inode, first, count);
      return chunksResponse(ctx, leader, page.attr, page.chunks);
    }, onInternal),

    AllocateChunk: unary(async (req) => {
      const leader = ctx.leader();
      const requestId = requireRequestId(req.requestId);
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        allocateChunk: {
          inode: String(requireInteger(req.inode, 'inode')),
          index: String(requireInteger(req.index, 'index')),
        },
      });
      if (value.kind !== 'chunk') throw new DfsError('INTERNAL', `allocateChunk applied as ${value.kind}`);
      return chunksResponse(ctx, leader, value.attr, [value.chunk]);
    }, onInternal),

    GetLease: unary(async (req) => {
      const leader = ctx.leader();
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      await ctx.log.readBarrier();
      const lease = await leader.grants.getLease(handle);
      const primary = leader.registry.get(lease.primary);
      if (primary === undefined) throw new DfsError('UNAVAILABLE', `primary of chunk ${handle} is unknown`);
      return {
        lease: {
          handle: String(handle),
          version: String(lease.version),
          primary: serverRef(primary),
          secondaries: lease.secondaries.map((id) => leader.registry.get(id)).filter((s) => s !== undefined).map(serverRef),
          expiresInMs: String(Math.max(0, Math.floor(lease.expiresAtMs - ctx.clock.nowMs()))),
        },
      };
    }, onInternal),

    CommitWrite: unary(async (req) => {
      ctx.leader();
      const requestId = requireRequestId(req.requestId);
      const value = await ctx.propose({
        timeUs: now(),
        requestId,
        commitWrite: {
          inode: String(requireInteger(req.inode, 'inode')),
          endOffset: String(requireInteger(req.endOffset, 'end_offset')),
        },
      });
      return attrResponse(value);
    }, onInternal),

    Batch: unary(async (req) => {
      const leader = ctx.leader();
      if (req.ops.length > LIMITS.batchOpsMax) throw new DfsError('TOO_LARGE', `a batch of ${req.ops.length} ops is above ${LIMITS.batchOpsMax}`);
      const results: OpResult[] = new Array<OpResult>(req.ops.length);
      // An op that fails its checks gets its error here and never reaches the log, as a lone call would not.
      const subEntries: LogEntry[] = [];
      const slots: number[] = [];
      req.ops.forEach((op, i) => {
        try {
          subEntries.push(batchSubEntry(op));
          slots.push(i);
        } catch (err) {
          results[i] = opError(err);
        }
      });
      if (subEntries.length > 0) {
        const body = encodeBatchBody(subEntries);
        if (body.length + BATCH_ENTRY_OVERHEAD_BYTES > LIMITS.batchEntryMaxBytes) {
          throw new DfsError('TOO_LARGE', `a batch entry of ${body.length + BATCH_ENTRY_OVERHEAD_BYTES} bytes is above ${LIMITS.batchEntryMaxBytes}`);
        }
        const applied = await batches.submit(body, subEntries.length);
        applied.forEach((result, j) => {
          const i = slots[j]!;
          results[i] = opResultOf(result);
          if (result.ok && changesReplication(req.ops[i]!)) {
            const attr = attrOf(result.value);
            ctx.state().forEachChunkOf(attr.inode, (handle) => leader.replication.mark(handle));
          }
        });
      }
      return { results };
    }, onInternal),

    ReadBatch: unary(async (req) => {
      ctx.leader();
      if (req.ops.length > LIMITS.batchOpsMax) throw new DfsError('TOO_LARGE', `a read batch of ${req.ops.length} ops is above ${LIMITS.batchOpsMax}`);
      const paths = req.ops.map((op) => {
        try {
          return readOpPath(op);
        } catch (err) {
          return opError(err);
        }
      });
      await ctx.log.readBarrier();
      const state = ctx.state();
      return {
        results: paths.map((path) => {
          if (typeof path !== 'string') return path;
          try {
            return opAttr(state.stat(path));
          } catch (err) {
            return opError(err);
          }
        }),
      };
    }, onInternal),

    GetClusterInfo: unary(async () => {
      ctx.leader();
      await ctx.log.readBarrier();
      const config = ctx.state().config();
      return {
        chunkSizeBytes: String(config.chunkSizeBytes),
        defaultReplication: config.defaultReplication,
        leaderAddress: ctx.log.status().leaderAddress ?? '',
        masterAddresses: [ctx.address],
      };
    }, onInternal),
  };
}

function attrOf(value: ApplyValue): AttrView {
  if (value.kind === 'attr' || value.kind === 'chunk') return value.attr;
  throw new DfsError('INTERNAL', `expected an attribute result, got ${value.kind}`);
}

function chunksResponse(ctx: MasterContext, leader: LeaderState, attr: AttrView, chunks: readonly ChunkView[]): GetChunksResponse {
  const state = ctx.state();
  return {
    attr: toWireAttr(attr),
    chunkSizeBytes: String(state.config().chunkSizeBytes),
    chunks: chunks.map((c): ChunkLocation => {
      const confirmed = state.chunk(c.handle)?.confirmedVersion ?? c.version;
      return {
        index: String(c.index),
        handle: String(c.handle),
        version: String(confirmed),
        replicas: confirmed === 0 ? [] : usableReplicas(leader, c.handle, confirmed).map(serverRef),
      };
    }),
  };
}
