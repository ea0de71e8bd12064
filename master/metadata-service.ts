import { DfsError, isDfsError } from '../common/errors.js';
import { chunkHandle, inodeId, type InodeId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { unary } from '../common/grpc-server.js';
import type { MetadataHandlers } from '../proto/generated/dfs/master/Metadata.js';
import type { GetChunksResponse } from '../proto/generated/dfs/master/GetChunksResponse.js';
import type { ChunkLocation } from '../proto/generated/dfs/ChunkLocation.js';
import { toWireAttr } from './attr.js';
import { MAY_READ, MAY_WRITE, requirePermission } from './permissions.js';
import { serverRef } from './lease-manager.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import { usableReplicas } from './replica-views.js';
import { requireCaller, requireInode, requirePath, requireRequestId } from './request-validation.js';
import { requireInteger } from '../common/wire-validation.js';
import type { ApplyValue, AttrView, ChunkView } from './state-machine.js';
import type { ListPage } from './namespace.js';
import type { BatchOp__Output } from '../proto/generated/dfs/master/BatchOp.js';
import type { ListResponse } from '../proto/generated/dfs/master/ListResponse.js';
import type { OpResult } from '../proto/generated/dfs/master/OpResult.js';
import type { ReadOp__Output } from '../proto/generated/dfs/master/ReadOp.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import { batchSubEntry, changesReplication, opAttr, opError, opResultOf } from './batch-ops.js';
import type { Attr } from '../proto/generated/dfs/Attr.js';
import { type ReadAnswer, readQuery, readResultOf, runRead } from './read-ops.js';
import { BatchProposer } from './batch-proposer.js';
import type { MetadataSessions } from './metadata-session.js';
import type { BatchRequest__Output } from '../proto/generated/dfs/master/BatchRequest.js';
import type { BatchResponse } from '../proto/generated/dfs/master/BatchResponse.js';
import type { ReadBatchRequest__Output } from '../proto/generated/dfs/master/ReadBatchRequest.js';
import { BATCH_ENTRY_OVERHEAD_BYTES, encodeBatchBody } from './log-entry.js';

/**
 * Client metadata RPCs. Each handler checks that this master leads (a
 * follower answers NOT_LEADER naming the leader), checks its input, proposes
 * one log entry or reads the state machine behind a read barrier, and maps
 * the outcome: nothing more. Errors leave as typed statuses (unary()).
 */
export function metadataHandlers(ctx: MasterContext, sessions: MetadataSessions): MetadataHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a metadata handler');
  const now = () => String(ctx.clock.wallUs());
  const attrResponse = (value: ApplyValue) => ({ attr: toWireAttr(attrOf(value)) });
  // Batch calls that arrive while one is on its way through the log share the next entry.
  const batches = new BatchProposer((entry) => ctx.log.propose(entry), () => ctx.clock.wallUs());

  /** A file's replication goal changed: its chunks get looked at, and distribution plans at once if it became `all`. */
  const goalChanged = (leader: LeaderState, inode: InodeId) => {
    ctx.state().forEachChunkOf(inode, (handle) => leader.replication.mark(handle));
    leader.distribution.kick();
  };
  /** A lone mutation: checked and turned into its entry exactly as a batch op of its kind would be. */
  const mutate = async (op: BatchOp__Output): Promise<ApplyValue> => {
    const leader = ctx.leader();
    const value = await ctx.propose({ ...batchSubEntry(op), timeUs: now() });
    if (changesReplication(op)) goalChanged(leader, attrOf(value).inode);
    return value;
  };
  /** A lone read: checked, then answered behind a read barrier, as in a ReadBatch. */
  const read = async (op: ReadOp__Output): Promise<ReadAnswer> => {
    ctx.leader();
    const query = readQuery(op);
    await ctx.log.readBarrier();
    return runRead(ctx.state(), query);
  };
  /** The directory a namespace op changed, as it is now (right after the op applied); undefined if it is gone. */
  const parentAttr = (op: BatchOp__Output): Attr | undefined => {
    const parent = op.op === 'makeNode' ? op.makeNode?.parent : op.op === 'link' ? op.link?.newParent : op.op === 'remove' ? op.remove?.parent : undefined;
    if (parent === undefined) return undefined;
    try {
      return opAttr(ctx.state().statInode(inodeId(requireInode(parent, 'parent')))).attr ?? undefined;
    } catch (err) {
      if (isDfsError(err)) return undefined;
      throw err;
    }
  };
  const withParent = <R extends object>(response: R, op: BatchOp__Output): R & { parent?: Attr } => {
    const parent = parentAttr(op);
    return parent === undefined ? response : { ...response, parent };
  };
  const attrOfRead = (answer: ReadAnswer) => {
    if (answer.kind !== 'attr') throw new DfsError('INTERNAL', `expected an attribute result, got ${answer.kind}`);
    return { attr: toWireAttr(answer.attr) };
  };

  /** Metadata.Batch, also a batch on a session. */
  const runBatch = async (req: BatchRequest__Output): Promise<BatchResponse> => {
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
        results[i] = result.ok ? withParent(opResultOf(result), req.ops[i]!) : opResultOf(result);
        if (result.ok && changesReplication(req.ops[i]!)) {
          goalChanged(leader, attrOf(result.value).inode);
        }
      });
    }
    return { results };
  };
  /** Metadata.ReadBatch, also a read batch on a session. */
  const runReadBatch = async (req: ReadBatchRequest__Output): Promise<BatchResponse> => {
    ctx.leader();
    if (req.ops.length > LIMITS.batchOpsMax) throw new DfsError('TOO_LARGE', `a read batch of ${req.ops.length} ops is above ${LIMITS.batchOpsMax}`);
    const queries = req.ops.map((op) => {
      try {
        return readQuery(op);
      } catch (err) {
        return opError(err);
      }
    });
    await ctx.log.readBarrier();
    const state = ctx.state();
    return {
      results: queries.map((query) => {
        if (!('kind' in query)) return query;
        try {
          return readResultOf(runRead(state, query));
        } catch (err) {
          return opError(err);
        }
      }),
    };
  };

  return {
    Mkdir: unary(async (req) => attrResponse(await mutate({ op: 'mkdir', mkdir: req })), onInternal),
    Create: unary(async (req) => attrResponse(await mutate({ op: 'create', create: req })), onInternal),
    Stat: unary(async (req) => attrOfRead(await read({ op: 'stat', stat: req })), onInternal),

    List: unary(async (req) => {
      ctx.leader();
      requirePath(req.path);
      const caller = requireCaller(req.caller);
      await ctx.log.readBarrier();
      return listResponse(ctx.state().list(req.path, req.startAfter, req.limit, caller));
    }, onInternal),

    Delete: unary(async (req) => {
      await mutate({ op: 'delete', delete: req });
      return {};
    }, onInternal),
    Rename: unary(async (req) => {
      await mutate({ op: 'rename', rename: req });
      return {};
    }, onInternal),
    SetAttr: unary(async (req) => attrResponse(await mutate({ op: 'setAttr', setAttr: req })), onInternal),
    Truncate: unary(async (req) => attrResponse(await mutate({ op: 'truncate', truncate: req })), onInternal),

    Lookup: unary(async (req) => attrOfRead(await read({ op: 'lookup', lookup: req })), onInternal),
    StatInode: unary(async (req) => attrOfRead(await read({ op: 'statInode', statInode: req })), onInternal),
    Readlink: unary(async (req) => {
      const answer = await read({ op: 'readlink', readlink: req });
      if (answer.kind !== 'target') throw new DfsError('INTERNAL', `expected a target, got ${answer.kind}`);
      return { target: answer.target };
    }, onInternal),

    ReadDir: unary(async (req) => {
      ctx.leader();
      const inode = inodeId(requireInode(req.inode, 'inode'));
      const caller = requireCaller(req.caller);
      await ctx.log.readBarrier();
      return listResponse(ctx.state().readDir(inode, req.startAfter, req.limit, caller));
    }, onInternal),

    MakeNode: unary(async (req) => {
      const op: BatchOp__Output = { op: 'makeNode', makeNode: req };
      return withParent(attrResponse(await mutate(op)), op);
    }, onInternal),
    Link: unary(async (req) => {
      const op: BatchOp__Output = { op: 'link', link: req };
      return withParent(attrResponse(await mutate(op)), op);
    }, onInternal),
    Remove: unary(async (req) => {
      const op: BatchOp__Output = { op: 'remove', remove: req };
      await mutate(op);
      return withParent({}, op);
    }, onInternal),
    RenameAt: unary(async (req) => {
      await mutate({ op: 'renameAt', renameAt: req });
      return {};
    }, onInternal),
    SetAttrInode: unary(async (req) => attrResponse(await mutate({ op: 'setAttrInode', setAttrInode: req })), onInternal),

    GetChunks: unary(async (req) => {
      const leader = ctx.leader();
      const inode = inodeId(requireInteger(req.inode, 'inode'));
      const first = requireInteger(req.firstIndex, 'first_index');
      const count = req.count === 0 ? LIMITS.chunksPageMax : Math.min(req.count, LIMITS.chunksPageMax);
      const caller = requireCaller(req.caller);
      await ctx.log.readBarrier();
      if (caller !== undefined) requirePermission(ctx.state().statInode(inode), caller, MAY_READ, `inode ${inode}`);
      const page = ctx.state().getChunks(inode, first, count);
      return chunksResponse(ctx, leader, page.attr, page.chunks);
    }, onInternal),

    AllocateChunk: unary(async (req) => {
      const leader = ctx.leader();
      const requestId = requireRequestId(req.requestId);
      const caller = requireCaller(req.caller);
      if (caller !== undefined) {
        const inode = inodeId(requireInteger(req.inode, 'inode'));
        await ctx.log.readBarrier();
        requirePermission(ctx.state().statInode(inode), caller, MAY_WRITE, `inode ${inode}`);
      }
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
      const caller = requireCaller(req.caller);
      await ctx.log.readBarrier();
      if (caller !== undefined) {
        const owner = ctx.state().chunk(handle);
        if (owner === undefined) throw new DfsError('NOT_FOUND', `chunk ${handle} not found`);
        requirePermission(ctx.state().statInode(owner.inode), caller, MAY_WRITE, `inode ${owner.inode}`);
      }
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
          accessToken: ctx.chunkTokens?.sign(handle, ['read', 'write'], ctx.clock.wallUs() / 1000) ?? '',
        },
      };
    }, onInternal),

    CommitWrite: unary(async (req) => attrResponse(await mutate({ op: 'commitWrite', commitWrite: req })), onInternal),

    Batch: unary(runBatch, onInternal),
    ReadBatch: unary(runReadBatch, onInternal),
    Session: sessions.handler({ batch: runBatch, readBatch: runReadBatch }),

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

function listResponse(page: ListPage): ListResponse {
  return { entries: page.entries.map((e) => ({ name: e.name, attr: toWireAttr(e.attr) })), hasMore: page.hasMore };
}

function attrOf(value: ApplyValue): AttrView {
  if (value.kind === 'attr' || value.kind === 'chunk') return value.attr;
  throw new DfsError('INTERNAL', `expected an attribute result, got ${value.kind}`);
}

function chunksResponse(ctx: MasterContext, leader: LeaderState, attr: AttrView, chunks: readonly ChunkView[]): GetChunksResponse {
  const state = ctx.state();
  // Tokens expire by the wall clock: chunkservers check them against their own.
  const wallMs = ctx.clock.wallUs() / 1000;
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
        accessToken: ctx.chunkTokens?.sign(c.handle, ['read'], wallMs) ?? '',
      };
    }),
  };
}
