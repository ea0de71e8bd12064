import type { BackoffPolicy } from '../common/backoff.js';
import { DfsError } from '../common/errors.js';
import { ClientPool, callUnary } from '../common/grpc-client-pool.js';
import { metadataChannelOptions } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { masterServices } from '../proto/load.js';
import type { MetadataClient } from '../proto/generated/dfs/master/Metadata.js';
import type { AdminClient } from '../proto/generated/dfs/master/Admin.js';
import type { RequestId } from '../proto/generated/dfs/RequestId.js';
import type { BatchOp } from '../proto/generated/dfs/master/BatchOp.js';
import type { OpResult__Output } from '../proto/generated/dfs/master/OpResult.js';
import type { ReadOp } from '../proto/generated/dfs/master/ReadOp.js';
import type { Caller } from '../proto/generated/dfs/Caller.js';
import * as grpc from '@grpc/grpc-js';
import { isErrorCode } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { callBatch } from './batch-call.js';
import { Coalescer } from './batch-coalescer.js';
import { MetadataSession, type SessionCall } from './metadata-session.js';
import { withRetry } from './retry.js';

type Method<C> = {
  [K in keyof C]: C[K] extends (argument: infer _A, callback: grpc.requestCallback<infer _R>) => grpc.ClientUnaryCall ? K : never;
}[keyof C];
type Req<F> = F extends (argument: infer A, callback: grpc.requestCallback<infer _R>) => grpc.ClientUnaryCall ? A : never;
type Res<F> = F extends (argument: infer _A, callback: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? R : never;

/** The mutations that travel in Metadata.Batch, and the BatchOp field each one fills. */
const BATCHED_MUTATIONS = {
  Mkdir: 'mkdir',
  Create: 'create',
  Delete: 'delete',
  Rename: 'rename',
  SetAttr: 'setAttr',
  Truncate: 'truncate',
  CommitWrite: 'commitWrite',
  MakeNode: 'makeNode',
  Link: 'link',
  Remove: 'remove',
  RenameAt: 'renameAt',
  SetAttrInode: 'setAttrInode',
} as const satisfies Partial<Record<Method<MetadataClient>, NonNullable<BatchOp['op']>>>;

type BatchedMutation = keyof typeof BATCHED_MUTATIONS;

function isBatchedMutation(method: string): method is BatchedMutation {
  return Object.prototype.hasOwnProperty.call(BATCHED_MUTATIONS, method);
}

/** The reads that travel in Metadata.ReadBatch, and the ReadOp field each one fills. */
const BATCHED_READS = {
  Stat: 'stat',
  Lookup: 'lookup',
  StatInode: 'statInode',
  Readlink: 'readlink',
} as const satisfies Partial<Record<Method<MetadataClient>, NonNullable<ReadOp['op']>>>;

type BatchedRead = keyof typeof BATCHED_READS;

function isBatchedRead(method: string): method is BatchedRead {
  return Object.prototype.hasOwnProperty.call(BATCHED_READS, method);
}

/**
 * What one op can add to its batch's log entry, at most: the strings it
 * carries and its caller's groups, plus a bound on every other field and the
 * framing (tags, lengths, a request id's seq, inodes, mode, uid, gid, two
 * times, flags: under 100 bytes for the largest op, SetAttr; the entry's own
 * time and framing, 15 bytes, fit in the slack). The master refuses an entry
 * above LIMITS.batchEntryMaxBytes (TOO_LARGE); batches built within this
 * bound never are.
 */
const OP_FIXED_BYTES = 128;
/** A caller's framing, uid and gid, and its groups' framing. */
const CALLER_FIXED_BYTES = 16;
/** A group id: a uint32 varint. */
const GROUP_BYTES = 5;

function stringBytes(...values: (string | null | undefined)[]): number {
  let bytes = 0;
  for (const v of values) if (typeof v === 'string') bytes += Buffer.byteLength(v, 'utf8');
  return bytes;
}

function callerBytes(caller: Caller | null | undefined): number {
  return caller ? CALLER_FIXED_BYTES + GROUP_BYTES * (caller.groups?.length ?? 0) : 0;
}

/** An upper bound on what `op` adds to a Batch log entry (exported for the test that checks the bound). */
export function mutationBytes(op: BatchOp): number {
  const req =
    op.mkdir ?? op.create ?? op.delete ?? op.setAttr ?? op.truncate ?? op.commitWrite ?? op.rename ?? op.makeNode ?? op.link ?? op.remove ?? op.renameAt ?? op.setAttrInode;
  const strings = stringBytes(
    req?.requestId?.clientId,
    req && 'path' in req ? req.path : undefined,
    op.rename?.source,
    op.rename?.destination,
    op.makeNode?.name,
    op.makeNode?.target,
    op.link?.newName,
    op.remove?.name,
    op.renameAt?.name,
    op.renameAt?.newName,
  );
  return OP_FIXED_BYTES + strings + callerBytes(req?.caller);
}

/** An upper bound on what `op` adds to a ReadBatch request. */
function readBytes(op: ReadOp): number {
  const stat = op.stat;
  const lookup = op.lookup;
  return OP_FIXED_BYTES + stringBytes(stat?.path, lookup?.name) + callerBytes(stat?.caller ?? lookup?.caller);
}

export interface MasterClientOptions {
  credentials: grpc.ChannelCredentials;
  retry: BackoffPolicy;
  callTimeoutMs: number;
  random: () => number;
  logger: Logger;
  /**
   * Coalesce mutations (and stats) made while another is in flight into
   * Metadata.Batch (ReadBatch) calls: one RPC and one log entry for many.
   * True unless turned off (benchmarks compare).
   */
  batching?: boolean;
  /**
   * Send those batches as messages on one long-lived Metadata.Session stream
   * per master, not as unary calls (which cost about twice as much). True
   * unless turned off; a master without sessions gets unary calls either way.
   */
  sessions?: boolean;
}

/**
 * Metadata calls to whichever master leads. Follows NOT_LEADER hints, moves
 * to the next address when one is down, and retries retryable failures with
 * backoff. A mutation's request id is fixed before the first attempt, so a
 * retry the master already applied is answered, not applied again.
 *
 * With batching (the default), concurrent mutations and stats are coalesced
 * (batch-coalescer.ts): each keeps its request id and gets its own result or
 * error, as if sent alone; a batch that fails as a whole is retried whole,
 * at the leader, with the same ids.
 */
export class MasterClient {
  private readonly metadata: ClientPool<MetadataClient>;
  private readonly admin: ClientPool<AdminClient>;
  private readonly addresses: string[];
  private current = 0;
  private seq = 0;
  private readonly mutations: Coalescer<BatchOp, OpResult__Output> | undefined;
  private readonly reads: Coalescer<ReadOp, OpResult__Output> | undefined;
  private readonly sessions = new Map<string, MetadataSession>();

  constructor(
    addresses: readonly string[],
    readonly clientId: string,
    private readonly options: MasterClientOptions,
  ) {
    if (addresses.length === 0) throw new DfsError('INVALID_ARGUMENT', 'no master address given');
    this.metadata = new ClientPool<MetadataClient>(masterServices().dfs.master.Metadata, metadataChannelOptions(), options.credentials);
    this.admin = new ClientPool<AdminClient>(masterServices().dfs.master.Admin, metadataChannelOptions(), options.credentials);
    this.addresses = [...addresses];
    if (options.batching ?? true) {
      const limits = { opsMax: LIMITS.batchOpsMax, bytesMax: LIMITS.batchEntryMaxBytes };
      this.mutations = new Coalescer((ops) => this.withLeader((address) => this.batch(address, { kind: 'batch', request: { ops } })), limits, mutationBytes);
      this.reads = new Coalescer((ops) => this.withLeader((address) => this.batch(address, { kind: 'readBatch', request: { ops } })), limits, readBytes);
    }
  }

  /** A Batch or ReadBatch: on the master's session unless sessions are off or the master has none, else a unary call. */
  private batch(address: string, call: SessionCall): Promise<OpResult__Output[]> {
    const timeoutMs = this.options.callTimeoutMs;
    const unary = (): Promise<OpResult__Output[]> =>
      call.kind === 'batch' ? callBatch(this.metadata.get(address), 'Batch', call.request, timeoutMs) : callBatch(this.metadata.get(address), 'ReadBatch', call.request, timeoutMs);
    if (!(this.options.sessions ?? true)) return unary();
    let session = this.sessions.get(address);
    if (session === undefined) {
      session = new MetadataSession(this.metadata.get(address));
      this.sessions.set(address, session);
    }
    return session.request(call, timeoutMs, unary);
  }

  /**
   * A fresh id for one mutation; reuse it for every retry of that mutation.
   * The seq is a number (a safe integer for any plausible client lifetime):
   * it encodes several times faster than a decimal string.
   */
  requestId(): RequestId {
    return { clientId: this.clientId, seq: ++this.seq };
  }

  call<K extends Method<MetadataClient>>(method: K, request: Req<MetadataClient[K]>): Promise<Res<MetadataClient[K]>> {
    if (this.mutations !== undefined && isBatchedMutation(method)) {
      const op: BatchOp = { [BATCHED_MUTATIONS[method]]: request };
      return this.mutations.submit(op).then(responseOf) as Promise<Res<MetadataClient[K]>>;
    }
    if (this.reads !== undefined && isBatchedRead(method)) {
      const op: ReadOp = { [BATCHED_READS[method]]: request };
      return this.reads.submit(op).then(responseOf) as Promise<Res<MetadataClient[K]>>;
    }
    return this.unary(method, request);
  }

  /** One RPC (no coalescing), retried at the leader. */
  private unary<K extends Method<MetadataClient>>(method: K, request: Req<MetadataClient[K]>): Promise<Res<MetadataClient[K]>> {
    return this.withLeader((address) =>
      callUnary(this.metadata.get(address), method as never, request as never, this.options.callTimeoutMs),
    ) as Promise<Res<MetadataClient[K]>>;
  }

  callAdmin<K extends Method<AdminClient>>(method: K, request: Req<AdminClient[K]>): Promise<Res<AdminClient[K]>> {
    return this.withLeader((address) =>
      callUnary(this.admin.get(address), method as never, request as never, this.options.callTimeoutMs),
    ) as Promise<Res<AdminClient[K]>>;
  }

  private withLeader<T>(fn: (address: string) => Promise<T>): Promise<T> {
    let tried = '';
    return withRetry(
      this.options.retry,
      this.options.random,
      () => fn((tried = this.addresses[this.current]!)),
      (err) => {
        const hint = err.details.leaderHint;
        if (err.code === 'NOT_LEADER' && hint) {
          if (!this.addresses.includes(hint)) this.addresses.push(hint);
          this.current = this.addresses.indexOf(hint);
        } else if (err.code === 'NOT_LEADER' || err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT') {
          // Many calls in flight fail together: the first moves on, the others must not move it again.
          if (this.addresses[this.current] === tried) this.current = (this.current + 1) % this.addresses.length;
        }
        this.options.logger.debug({ code: err.code, next: this.addresses[this.current] }, 'retrying a master call');
      },
    );
  }

  close(): void {
    this.mutations?.close();
    this.reads?.close();
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
    this.metadata.close();
    this.admin.close();
  }
}

/** A batched op's result as its lone RPC would have answered: an AttrResponse, a ReadlinkResponse, an empty response, or its error. */
function responseOf(result: OpResult__Output): { attr?: OpResult__Output['attr']; target?: string; parent?: OpResult__Output['parent'] } {
  const parent = result.parent ? { parent: result.parent } : {};
  switch (result.result) {
    case 'attr':
      return { attr: result.attr ?? null, ...parent };
    case 'target':
      return { target: result.target ?? '' };
    case 'done':
      return parent;
    case 'error': {
      const code = result.error?.code ?? '';
      const message = result.error?.message ?? '';
      throw isErrorCode(code) ? new DfsError(code, message) : new DfsError('INTERNAL', `master answered with an unknown code ${JSON.stringify(code)}: ${message}`);
    }
    default:
      throw new DfsError('INTERNAL', 'master answered a batched op with no result');
  }
}
