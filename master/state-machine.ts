import { assert } from '../common/assert.js';
import { DfsError, errors } from '../common/errors.js';
import { type ChunkHandle, type ChunkVersion, type InodeId, ROOT_INODE } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { LogEntry__Output } from '../proto/generated/dfs/masterlog/LogEntry.js';
import type { AttrView, ChunkView } from './attr.js';
import type { ChunkInfo } from './chunk-table.js';
import { type ClusterConfig, parseClusterConfig } from './cluster-config.js';
import { broken } from './invariant.js';
import { decodeEntry, type LogOp } from './log-entry.js';
import { type ListPage, Namespace, type NodeSpec } from './namespace.js';
import { requireSymlinkTarget } from './names.js';
import type { Caller } from './permissions.js';
import { isValidClientId, type Outcome, SessionTable } from './session-table.js';
import { decodeSnapshot, encodeSnapshot, type MachineState } from './snapshot.js';
import { readAttrChanges, readBool, readCaller, readInt64, readString, readUint32, readUint64 } from './entry-fields.js';
import { isDevice, kindFromWire } from './attr.js';
import { type NodeAdminState, nodeStateFromWire, NodeStateTable } from './node-states.js';

export type { AttrView, ChunkView } from './attr.js';

export type ApplyValue =
  | { readonly kind: 'attr'; readonly attr: AttrView }
  | { readonly kind: 'none' }
  | { readonly kind: 'chunk'; readonly attr: AttrView; readonly chunk: ChunkView }
  | { readonly kind: 'version'; readonly handle: ChunkHandle; readonly version: ChunkVersion }
  | { readonly kind: 'purged'; readonly inodes: number; readonly chunks: number; readonly sessions: number }
  /** A Batch entry: one result per sub-entry, in order, each as its own entry would have had. */
  | { readonly kind: 'batch'; readonly results: readonly ApplyResult[] };

export type ApplyResult =
  | { readonly ok: true; readonly value: ApplyValue; readonly duplicate: boolean }
  | { readonly ok: false; readonly error: DfsError; readonly duplicate: boolean };

/** A chunk's record: version, confirmed version, references, owner and index. */
export type ChunkInfoView = ChunkInfo;

/**
 * The master's replicated state machine: the namespace, the chunk table, the
 * cluster config and the client sessions, changed only by apply(). It is
 * deterministic: every replica that applies the same entries in the same
 * order holds the same state and produces the same snapshot bytes. It reads
 * no clock (times come from the entries), does no I/O and keeps no state
 * outside the instance.
 *
 * apply() never throws for bad input: an entry that cannot apply yields
 * { ok: false } and changes nothing but, when it carries a request id, the
 * client's session, which remembers the failure for retries. Exceptions
 * are broken invariants (AssertionError): the replica must stop.
 *
 * `new MasterStateMachine()` is an uninitialized cluster holding only the root.
 */
export class MasterStateMachine {
  private clusterConfig: ClusterConfig | undefined = undefined;
  private namespace = new Namespace();
  private sessions = new SessionTable();
  private nodeStates = new NodeStateTable();

  // ----- applying entries -----

  apply(entry: LogEntry__Output): ApplyResult {
    if (entry.op === 'batch') return this.applyBatch(entry);
    return this.applyOne(entry, entry.timeUs);
  }

  /**
   * Applies the sub-entries of a Batch in order, each through applyOne()
   * exactly as if it were an entry of its own, at the batch's time: a
   * sub-entry's failure is its own result and the others go on. Only a batch
   * that is malformed as a whole fails, and then nothing of it applies.
   */
  private applyBatch(entry: LogEntry__Output): ApplyResult {
    let subEntries: readonly LogEntry__Output[];
    try {
      // Each sub-entry carries its own request id; one on the batch would be deduplicated by nobody.
      if (entry.requestId !== undefined && entry.requestId !== null) invalid('a batch carries no request id: each of its entries has its own');
      if (readInt64(entry.timeUs) === undefined) invalid(`entry time ${String(entry.timeUs)} is not a safe integer`);
      subEntries = present(entry.batch, 'batch').entries ?? [];
      if (!Array.isArray(subEntries)) invalid('batch entries are not a list');
      if (subEntries.length > LIMITS.batchOpsMax) {
        throw new DfsError('TOO_LARGE', `a batch holds ${subEntries.length} entries, above ${LIMITS.batchOpsMax}`);
      }
    } catch (err) {
      return failed(err, false);
    }
    const results = subEntries.map((sub): ApplyResult => {
      if (sub.op !== undefined && BATCHABLE_OPS.has(sub.op)) return this.applyOne(sub, entry.timeUs);
      // Refused for its kind alone, whatever the state: not recorded, so a retry is refused alike.
      return { ok: false, error: errors.invalid(`a batch cannot carry ${String(sub.op ?? 'an entry without an operation')}`), duplicate: false };
    });
    return { ok: true, value: { kind: 'batch', results }, duplicate: false };
  }

  /** One operation: a whole entry, or a sub-entry of a batch at the batch's time. */
  private applyOne(entry: LogEntry__Output, time: unknown): ApplyResult {
    let request: { clientId: string; seq: number } | undefined;
    let timeUs: number;
    try {
      request = readRequestId(entry.requestId);
      timeUs = readInt64(time) ?? invalid(`entry time ${String(time)} is not a safe integer`);
    } catch (err) {
      return failed(err, false);
    }
    if (request !== undefined) {
      const seen = this.sessions.lookup(request.clientId, request.seq);
      if (seen.kind === 'duplicate') return this.reply(seen.outcome, true);
      if (seen.kind === 'tooOld') {
        const message = `request too old to tell whether it was applied: seq ${request.seq} of ${request.clientId} is below ${seen.forgottenBelowSeq}`;
        return { ok: false, error: errors.invalid(message), duplicate: false };
      }
    }
    // Not recorded in the session: the client retries with the same seq once the cluster is up.
    if (this.clusterConfig === undefined && entry.op !== 'initCluster' && entry.op !== 'noop') {
      return { ok: false, error: errors.unavailable('cluster not initialized'), duplicate: false };
    }
    let outcome: Outcome;
    let error: DfsError | undefined;
    try {
      outcome = this.execute(entry, timeUs);
    } catch (err) {
      if (!(err instanceof DfsError)) throw err;
      error = err;
      outcome = { kind: 'error', code: err.code, message: err.message };
    }
    if (request !== undefined) this.sessions.record(request.clientId, request.seq, timeUs, outcome);
    const result: ApplyResult = error !== undefined ? { ok: false, error, duplicate: false } : this.reply(outcome, false);
    // Between entries, where no row number is held: see ascending-rows.ts.
    this.namespace.compact();
    return result;
  }

  applyEncoded(bytes: Uint8Array): ApplyResult {
    let entry: LogEntry__Output;
    try {
      entry = decodeEntry(bytes);
    } catch (err) {
      return { ok: false, error: new DfsError('INVALID_ARGUMENT', 'log entry cannot be decoded', { cause: err }), duplicate: false };
    }
    return this.apply(entry);
  }

  // ----- queries (throw DfsError) -----

  config(): { initialized: boolean; chunkSizeBytes: number; defaultReplication: number; clusterId: string } {
    const config = this.clusterConfig;
    if (config === undefined) return { initialized: false, chunkSizeBytes: 0, defaultReplication: 0, clusterId: '' };
    return { initialized: true, chunkSizeBytes: config.chunkSizeBytes, defaultReplication: config.defaultReplication, clusterId: config.clusterId };
  }

  /** With a caller, every directory on the path must grant it search. */
  stat(path: string, caller?: Caller): AttrView {
    return this.namespace.inodes.view(this.namespace.resolve(path, caller));
  }

  /** Inodes in the trash included, until PurgeTrash. No permission is needed, as for fstat(2). */
  statInode(inode: InodeId): AttrView {
    return this.namespace.inodes.view(this.namespace.inodeRow(inode));
  }

  /** The entry `name` of directory `parent`; with a caller, `parent` must grant it search. */
  lookup(parent: InodeId, name: string, caller?: Caller): AttrView {
    return this.namespace.inodes.view(this.namespace.lookup(parent, name, caller));
  }

  /**
   * Names after `startAfter` in sorted order; `limit` 0 or above
   * LIMITS.listPageMax means LIMITS.listPageMax. With a caller, search on
   * the path and read on the directory.
   */
  list(path: string, startAfter: string, limit: number, caller?: Caller): ListPage {
    return this.namespace.list(path, startAfter, limit, caller);
  }

  /** As list(), for directory `inode`; a deleted directory is empty. */
  readDir(inode: InodeId, startAfter: string, limit: number, caller?: Caller): ListPage {
    return this.namespace.readDir(inode, startAfter, limit, caller);
  }

  /** A symlink's target (INVALID_ARGUMENT for any other kind). */
  readlink(inode: InodeId): string {
    return this.namespace.readlink(inode);
  }

  /** The chunks with index in [firstIndex, firstIndex + count), holes omitted; count 0 or above LIMITS.chunksPageMax means LIMITS.chunksPageMax. */
  getChunks(inode: InodeId, firstIndex: number, count: number): { attr: AttrView; chunks: ChunkView[] } {
    return this.namespace.getChunks(inode, firstIndex, count);
  }

  /** Every chunk of a file with its index (holes skipped), however many: getChunks pages for clients, this does not. */
  forEachChunkOf(inode: InodeId, fn: (handle: ChunkHandle, index: number) => void): void {
    this.namespace.forEachChunkOf(inode, fn);
  }

  chunk(handle: ChunkHandle): ChunkInfoView | undefined {
    return this.namespace.chunks.get(handle);
  }

  /** The replication goal of a chunk: its owner's. */
  chunkGoal(handle: ChunkHandle): { replication: number; all: boolean } | undefined {
    const info = this.namespace.chunks.get(handle);
    if (info === undefined) return undefined;
    const inodes = this.namespace.inodes;
    const row = inodes.rowOf(info.inode);
    if (row === -1) broken(`chunk ${handle}'s owner ${info.inode} is missing`);
    return { replication: inodes.replication(row), all: inodes.replicateAll(row) };
  }

  /**
   * The bytes a chunk holds as its owner's size says (the last chunk may be
   * short); 0 for an unknown chunk. Replicas report their own lengths, but
   * the master plans moves before it hears them.
   */
  chunkBytes(handle: ChunkHandle): number {
    const info = this.namespace.chunks.get(handle);
    const config = this.clusterConfig;
    if (info === undefined || config === undefined) return 0;
    const row = this.namespace.inodes.rowOf(info.inode);
    if (row === -1) return 0;
    const size = this.namespace.inodes.size(row);
    return Math.max(0, Math.min(config.chunkSizeBytes, size - info.index * config.chunkSizeBytes));
  }

  /** A chunkserver's admin state (active unless an entry said otherwise). */
  nodeState(serverId: string): NodeAdminState {
    return this.nodeStates.get(serverId);
  }

  /** Every chunkserver that is not active, ascending by id. */
  nodeStatesNotActive(): [string, Exclude<NodeAdminState, 'active'>][] {
    return this.nodeStates.entries();
  }

  /** Every chunk, ascending by handle. */
  forEachChunk(fn: (handle: ChunkHandle, version: ChunkVersion) => void): void {
    this.namespace.chunks.forEach(fn);
  }

  /** Files and directories count every inode held, the trash's included; trash counts trash entries. */
  counts(): { files: number; directories: number; chunks: number; trash: number; sessions: number } {
    const ns = this.namespace;
    return {
      files: ns.inodes.files,
      directories: ns.inodes.directories,
      chunks: ns.chunks.count,
      trash: ns.trash.length,
      sessions: this.sessions.size,
    };
  }

  // ----- snapshots -----

  snapshot(): Buffer {
    return encodeSnapshot(this.state());
  }

  /** Throws INVALID_ARGUMENT for bytes that are not a consistent snapshot. */
  static restore(bytes: Uint8Array): MasterStateMachine {
    const adopt = (state: MachineState): MasterStateMachine => {
      const sm = new MasterStateMachine();
      sm.clusterConfig = state.config;
      sm.namespace = state.namespace;
      sm.sessions = state.sessions;
      sm.nodeStates = state.nodeStates;
      return sm;
    };
    return adopt(decodeSnapshot(bytes, (state) => adopt(state).checkInvariants()));
  }

  /** Asserts every invariant of the state: tests call it after every apply. O(state). */
  checkInvariants(): void {
    const config = this.clusterConfig;
    if (config !== undefined) {
      const wire = { chunkSizeBytes: String(config.chunkSizeBytes), defaultReplication: config.defaultReplication, clusterId: config.clusterId };
      let valid = true;
      try {
        parseClusterConfig(wire);
      } catch (err) {
        if (!(err instanceof DfsError)) throw err;
        valid = false;
      }
      if (!valid) broken(`the cluster config ${JSON.stringify(wire)} is invalid`);
    } else {
      const counts = this.counts();
      assert(counts.files === 0 && counts.directories === 1 && counts.chunks === 0, 'an uninitialized cluster holds more than its root');
    }
    this.namespace.checkInvariants(config?.chunkSizeBytes ?? 0);
    this.sessions.checkInvariants();
  }

  // ----- internals -----

  private state(): MachineState {
    return { config: this.clusterConfig, namespace: this.namespace, sessions: this.sessions, nodeStates: this.nodeStates };
  }

  private requireConfig(): ClusterConfig {
    const config = this.clusterConfig;
    assert(config !== undefined, 'operation applied before InitCluster');
    return config;
  }

  /** Applies one operation; throws DfsError before changing anything. */
  private execute(entry: LogEntry__Output, timeUs: number): Outcome {
    const ns = this.namespace;
    const attr = (row: number): Outcome => ({ kind: 'attr', inode: ns.inodes.id(row) });
    const op = entry.op;
    switch (op) {
      case undefined:
        return invalid('log entry carries no operation');
      case 'initCluster': {
        const init = present(entry.initCluster, op);
        if (this.clusterConfig === undefined) {
          this.clusterConfig = parseClusterConfig(init);
          const root = ns.inodes.rowOf(ROOT_INODE);
          ns.inodes.setAtimeUs(root, timeUs);
          ns.inodes.touch(root, timeUs);
        }
        return { kind: 'attr', inode: ROOT_INODE };
      }
      case 'mkdir': {
        const mkdir = present(entry.mkdir, op);
        const path = readString(mkdir.path, 'path');
        const spec = this.readSpec('directory', mkdir, { exclusive: true });
        return attr(ns.mkdir(path, spec, readBool(mkdir.parents, 'parents'), readCaller(mkdir.caller), timeUs));
      }
      case 'create': {
        const create = present(entry.create, op);
        const path = readString(create.path, 'path');
        const spec = this.readSpec('file', create, {
          exclusive: readBool(create.exclusive, 'exclusive'),
          replication: this.readReplication(create.replication),
          replicateAll: readBool(create.replicateAll, 'replicateAll'),
        });
        return attr(ns.create(path, spec, readCaller(create.caller), timeUs));
      }
      case 'delete': {
        const del = present(entry.delete, op);
        ns.delete(readString(del.path, 'path'), readBool(del.recursive, 'recursive'), readCaller(del.caller), timeUs);
        return { kind: 'none' };
      }
      case 'rename': {
        const rename = present(entry.rename, op);
        const source = readString(rename.source, 'source');
        const destination = readString(rename.destination, 'destination');
        ns.rename(source, destination, readBool(rename.noReplace, 'noReplace'), readCaller(rename.caller), timeUs);
        return { kind: 'none' };
      }
      case 'setAttr': {
        const set = present(entry.setAttr, op);
        const path = readString(set.path, 'path');
        const inode = readUint64(set.inode) ?? 0;
        const caller = readCaller(set.caller);
        const changes = readAttrChanges(set);
        // proto3 optional: a field the sender left out is absent (undefined) after decoding.
        const given = (value: unknown): boolean => value !== undefined && value !== null;
        const replication = given(set.replication) ? this.readReplication(set.replication) : undefined;
        const replicateAll = given(set.replicateAll) ? readBool(set.replicateAll, 'replicateAll') : undefined;
        if (inode !== 0 && path !== '') invalid('a set_attr names its target by path or by inode, not both');
        const row = inode !== 0 ? ns.inodeRow(inode) : ns.resolve(path, caller);
        if (readBool(set.atimeAccess, 'atime_access')) {
          const others = Object.values(changes).some((v) => v !== undefined) || replication !== undefined || replicateAll !== undefined;
          if (others) invalid('an access-time update changes nothing else');
          return attr(ns.accessed(row, timeUs));
        }
        return attr(ns.setAttr(row, { ...changes, replication, replicateAll }, caller, timeUs, inode !== 0 ? `inode ${inode}` : path));
      }
      case 'truncate': {
        const truncate = present(entry.truncate, op);
        // Unreadable numbers: an inode that cannot exist, a size past every limit.
        const inode = readUint64(truncate.inode) ?? 0;
        const size = readUint64(truncate.size) ?? Infinity;
        return attr(ns.truncate(inode, size, this.requireConfig().chunkSizeBytes, readCaller(truncate.caller), timeUs));
      }
      case 'allocateChunk': {
        const allocate = present(entry.allocateChunk, op);
        const inode = readUint64(allocate.inode) ?? 0;
        const index = readUint64(allocate.index) ?? Infinity;
        const { row, chunk } = ns.allocateChunk(inode, index);
        return { kind: 'chunk', inode: ns.inodes.id(row), index: chunk.index };
      }
      case 'commitWrite': {
        const commit = present(entry.commitWrite, op);
        const inode = readUint64(commit.inode) ?? 0;
        const endOffset = readUint64(commit.endOffset) ?? Infinity;
        const writtenAtUs = readInt64(commit.writtenAtUs) || timeUs;
        return attr(ns.commitWrite(inode, endOffset, this.requireConfig().chunkSizeBytes, readCaller(commit.caller), writtenAtUs));
      }
      case 'makeNode': {
        const make = present(entry.makeNode, op);
        const kind = kindFromWire(make.kind) ?? invalid(`make_node has no valid kind: ${String(make.kind)}`);
        const parent = readUint64(make.parent) ?? 0;
        const name = readString(make.name, 'name');
        const target = readString(make.target, 'target');
        if (kind === 'symlink') requireSymlinkTarget(target);
        else if (target !== '') invalid(`a ${kind} has no symlink target`);
        const spec = this.readSpec(kind, make, {
          exclusive: readBool(make.exclusive, 'exclusive'),
          // mknod(2) ignores the device number of anything but a device.
          rdev: isDevice(kind) ? readUint32(make.rdev, 'rdev') : undefined,
          target: kind === 'symlink' ? target : undefined,
          replication: kind === 'file' ? this.requireConfig().defaultReplication : 0,
        });
        return attr(ns.makeNodeAt(parent, name, spec, readCaller(make.caller), timeUs));
      }
      case 'link': {
        const link = present(entry.link, op);
        const inode = readUint64(link.inode) ?? 0;
        const parent = readUint64(link.newParent) ?? 0;
        return attr(ns.link(inode, parent, readString(link.newName, 'new_name'), readCaller(link.caller), timeUs));
      }
      case 'remove': {
        const remove = present(entry.remove, op);
        const parent = readUint64(remove.parent) ?? 0;
        ns.remove(parent, readString(remove.name, 'name'), readBool(remove.directory, 'directory'), readCaller(remove.caller), timeUs);
        return { kind: 'none' };
      }
      case 'renameAt': {
        const rename = present(entry.renameAt, op);
        const flags = { noReplace: readBool(rename.noReplace, 'no_replace'), exchange: readBool(rename.exchange, 'exchange') };
        ns.renameAt(
          readUint64(rename.parent) ?? 0,
          readString(rename.name, 'name'),
          readUint64(rename.newParent) ?? 0,
          readString(rename.newName, 'new_name'),
          flags,
          readCaller(rename.caller),
          timeUs,
        );
        return { kind: 'none' };
      }
      case 'bumpVersion': {
        const bump = present(entry.bumpVersion, op);
        const handle = (readUint64(bump.handle) ?? 0) as ChunkHandle;
        const info = ns.chunks.get(handle);
        if (info === undefined) throw errors.notFound(`chunk ${bump.handle}`);
        const version = (readUint64(bump.version) ?? invalid(`version ${bump.version} is not a safe integer`)) as ChunkVersion;
        if (version <= info.version) {
          throw new DfsError('STALE_VERSION', `chunk ${handle} is at version ${info.version}, not below ${version}`);
        }
        ns.chunks.setVersion(handle, version);
        return { kind: 'version', handle, version };
      }
      case 'confirmVersion': {
        const confirm = present(entry.confirmVersion, op);
        const handle = (readUint64(confirm.handle) ?? 0) as ChunkHandle;
        const info = ns.chunks.get(handle);
        if (info === undefined) throw errors.notFound(`chunk ${confirm.handle}`);
        const version = (readUint64(confirm.version) ?? invalid(`version ${confirm.version} is not a safe integer`)) as ChunkVersion;
        if (version > info.version) throw errors.invalid(`chunk ${handle} is at version ${info.version}: ${version} cannot be confirmed`);
        if (version < info.confirmedVersion) {
          throw new DfsError('STALE_VERSION', `chunk ${handle} is confirmed at ${info.confirmedVersion}, above ${version}`);
        }
        ns.chunks.setConfirmedVersion(handle, version);
        return { kind: 'version', handle, version };
      }
      case 'purgeTrash': {
        const purge = present(entry.purgeTrash, op);
        const deletedBeforeUs = readInt64(purge.deletedBeforeUs) ?? invalid(`trash time ${purge.deletedBeforeUs} is not a safe integer`);
        const idleBeforeUs = readInt64(purge.sessionsIdleBeforeUs) ?? invalid(`session time ${purge.sessionsIdleBeforeUs} is not a safe integer`);
        const { inodes, chunks } = ns.purgeTrash(deletedBeforeUs);
        return { kind: 'purged', inodes, chunks, sessions: this.sessions.purge(idleBeforeUs) };
      }
      case 'setNodeState': {
        const set = present(entry.setNodeState, op);
        const state = nodeStateFromWire(set.state) ?? invalid(`set_node_state has no valid state: ${String(set.state)}`);
        this.nodeStates.set(readString(set.serverId, 'server_id'), state);
        return { kind: 'none' };
      }
      case 'noop':
        return { kind: 'none' };
      case 'batch':
        // apply() takes batches apart and applyBatch() lets no batch through to here.
        return broken('a batch reached execute()');
      default: {
        const unknown: never = op;
        return invalid(`unknown operation ${String(unknown)}`);
      }
    }
  }

  /** A new inode's description from an entry's mode, uid and gid, and what its kind adds. */
  private readSpec(
    kind: NodeSpec['kind'],
    op: { mode?: unknown; uid?: unknown; gid?: unknown },
    more: Partial<Pick<NodeSpec, 'exclusive' | 'replication' | 'replicateAll' | 'target' | 'rdev'>>,
  ): NodeSpec {
    return {
      kind,
      mode: readUint32(op.mode, 'mode') & 0o7777,
      uid: readUint32(op.uid, 'uid'),
      gid: readUint32(op.gid, 'gid'),
      exclusive: more.exclusive ?? false,
      replication: more.replication ?? 0,
      replicateAll: more.replicateAll ?? false,
      target: more.target,
      rdev: more.rdev,
    };
  }

  /** 0 means the cluster's default. */
  private readReplication(value: unknown): number {
    const replication = readUint32(value, 'replication');
    if (replication > LIMITS.replicationMax) {
      throw errors.invalid(`replication ${replication} is above ${LIMITS.replicationMax}: use replicateAll`);
    }
    return replication === 0 ? this.requireConfig().defaultReplication : replication;
  }

  /**
   * The reply to a request, built from its outcome and the current state: for
   * a fresh request the state right after it, for a duplicate the state now.
   */
  private reply(outcome: Outcome, duplicate: boolean): ApplyResult {
    const ns = this.namespace;
    switch (outcome.kind) {
      case 'error':
        return { ok: false, error: new DfsError(outcome.code, outcome.message), duplicate };
      case 'none':
        return { ok: true, value: { kind: 'none' }, duplicate };
      case 'attr': {
        const row = ns.inodes.rowOf(outcome.inode);
        if (row === -1) return purgedSince(`inode ${outcome.inode}`, duplicate);
        return { ok: true, value: { kind: 'attr', attr: ns.inodes.view(row) }, duplicate };
      }
      case 'chunk': {
        const row = ns.inodes.rowOf(outcome.inode);
        if (row === -1) return purgedSince(`inode ${outcome.inode}`, duplicate);
        const chunk = ns.chunkAt(row, outcome.index);
        if (chunk === undefined) return purgedSince(`chunk ${outcome.index} of inode ${outcome.inode}`, duplicate);
        return { ok: true, value: { kind: 'chunk', attr: ns.inodes.view(row), chunk }, duplicate };
      }
      case 'version':
        return { ok: true, value: { kind: 'version', handle: outcome.handle, version: outcome.version }, duplicate };
      case 'purged':
        return { ok: true, value: { kind: 'purged', inodes: outcome.inodes, chunks: outcome.chunks, sessions: outcome.sessions }, duplicate };
    }
  }
}

/** What a Batch may carry: the mutations clients send (and noop, which tests use). */
const BATCHABLE_OPS: ReadonlySet<LogOp> = new Set<LogOp>([
  'mkdir',
  'create',
  'delete',
  'rename',
  'setAttr',
  'truncate',
  'allocateChunk',
  'commitWrite',
  'makeNode',
  'link',
  'remove',
  'renameAt',
  'noop',
]);

/** A duplicate's reply when what the request made is gone (purged, truncated away); a fresh reply never is. */
function purgedSince(what: string, duplicate: boolean): ApplyResult {
  if (!duplicate) broken(`${what} vanished while applying`);
  return { ok: false, error: errors.notFound(`${what} (the request was applied; it has since gone)`), duplicate };
}

function readRequestId(requestId: LogEntry__Output['requestId'] | undefined): { clientId: string; seq: number } | undefined {
  if (requestId === undefined || requestId === null) return undefined;
  if (!isValidClientId(requestId.clientId)) throw errors.invalid('request id has an empty, non-string or too long client id');
  const seq = readUint64(requestId.seq) ?? invalid(`request seq ${String(requestId.seq)} is not a safe integer`);
  return { clientId: requestId.clientId, seq };
}

function present<T>(value: T | null | undefined, op: string): T {
  if (value === undefined || value === null || typeof value !== 'object') throw errors.invalid(`log entry names ${op} but does not carry it`);
  return value;
}

function invalid(message: string): never {
  throw errors.invalid(message);
}

function failed(err: unknown, duplicate: boolean): ApplyResult {
  if (err instanceof DfsError) return { ok: false, error: err, duplicate };
  throw err;
}
