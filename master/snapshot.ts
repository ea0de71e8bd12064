import type protobuf from 'protobufjs';

import { AssertionError } from '../common/assert.js';
import { DfsError, errors } from '../common/errors.js';
import { type ChunkHandle, type ChunkVersion, type InodeId, ROOT_INODE } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { CONVERSION, protoRoot } from '../proto/load.js';
import type { SessionRecord__Output } from '../proto/generated/dfs/masterlog/SessionRecord.js';
import { type ClusterConfig, parseClusterConfig } from './cluster-config.js';
import { isDevice, kindFromWire, wireKindNumber } from './attr.js';
import { isValidName, requireSymlinkTarget } from './names.js';
import { Namespace, type TrashEntry } from './namespace.js';
import { ProtoReader, ProtoWriter, WIRE_LEN, WIRE_VARINT, WireError } from './proto-wire.js';
import { SessionTable } from './session-table.js';
import { isValidServerId, nodeStateFromWire, nodeStateNumber, NodeStateTable } from './node-states.js';

/** Everything the log's entries have built: what a snapshot holds. */
export interface MachineState {
  readonly config: ClusterConfig | undefined;
  readonly namespace: Namespace;
  readonly sessions: SessionTable;
  readonly nodeStates: NodeStateTable;
}

// Field numbers of proto/master-log.proto: change them together.
const SNAPSHOT = { config: 1, nextInode: 2, nextHandle: 3, inodes: 4, entries: 5, chunks: 6, trash: 7, sessions: 8, nodeStates: 9 } as const;
const NODE_STATE = { serverId: 1, state: 2 } as const;
const INIT = { chunkSizeBytes: 1, defaultReplication: 2, clusterId: 3 } as const;
const INODE = {
  id: 1,
  kind: 2,
  mode: 3,
  uid: 4,
  gid: 5,
  size: 6,
  nlink: 7,
  atimeUs: 8,
  mtimeUs: 9,
  ctimeUs: 10,
  replication: 11,
  replicateAll: 12,
  chunks: 13,
  parent: 14,
  rdev: 15,
  symlinkTarget: 16,
} as const;
const ENTRY = { parent: 1, name: 2, child: 3 } as const;
const CHUNK = { handle: 1, version: 2, refCount: 3, inode: 4, index: 5, confirmedVersion: 6 } as const;
const TRASH = { inode: 1, originalPath: 2, deletedAtUs: 3 } as const;

function sessionRecordType(): protobuf.Type {
  return protoRoot().lookupType('dfs.masterlog.SessionRecord');
}

/**
 * The state as MasterSnapshot bytes (proto/master-log.proto), written with
 * proto-wire.ts: one pass per table, no object per record.
 *
 * Every list is in an order that depends only on the state (ids ascending),
 * or on the log where a restore reproduces it (directory entries and
 * sessions in insertion order), so equal states give equal bytes.
 */
export function encodeSnapshot(state: MachineState): Buffer {
  const w = new ProtoWriter();
  const ns = state.namespace;
  const inodes = ns.inodes;
  if (state.config !== undefined) {
    const mark = w.begin(SNAPSHOT.config);
    w.uint(INIT.chunkSizeBytes, state.config.chunkSizeBytes);
    w.uint(INIT.defaultReplication, state.config.defaultReplication);
    w.string(INIT.clusterId, state.config.clusterId);
    w.end(mark);
  }
  w.uint(SNAPSHOT.nextInode, ns.counters.nextInode);
  w.uint(SNAPSHOT.nextHandle, ns.counters.nextHandle);

  inodes.forEachRow((row) => {
    const id = inodes.id(row);
    const kind = inodes.kind(row);
    const mark = w.begin(SNAPSHOT.inodes);
    w.uint(INODE.id, id);
    w.uint(INODE.kind, wireKindNumber(kind));
    w.uint(INODE.mode, inodes.mode(row));
    w.uint(INODE.uid, inodes.uid(row));
    w.uint(INODE.gid, inodes.gid(row));
    w.uint(INODE.size, inodes.size(row));
    w.uint(INODE.nlink, inodes.nlink(row));
    w.int(INODE.atimeUs, inodes.atimeUs(row));
    w.int(INODE.mtimeUs, inodes.mtimeUs(row));
    w.int(INODE.ctimeUs, inodes.ctimeUs(row));
    w.uint(INODE.replication, inodes.replication(row));
    w.bool(INODE.replicateAll, inodes.replicateAll(row));
    if (kind === 'directory') w.uint(INODE.parent, inodes.children(row).parent);
    else if (kind === 'file') w.packed(INODE.chunks, inodes.chunkList(row));
    else if (kind === 'symlink') w.string(INODE.symlinkTarget, inodes.target(row));
    else if (isDevice(kind)) w.uint(INODE.rdev, inodes.rdev(row));
    w.end(mark);
  });
  inodes.forEachRow((row) => {
    if (!inodes.isDirectory(row)) return;
    const parent = inodes.id(row);
    for (const [name, child] of inodes.children(row)) {
      const mark = w.begin(SNAPSHOT.entries);
      w.uint(ENTRY.parent, parent);
      w.string(ENTRY.name, name);
      w.uint(ENTRY.child, child);
      w.end(mark);
    }
  });
  ns.chunks.forEachInfo((handle, info) => {
    const mark = w.begin(SNAPSHOT.chunks);
    w.uint(CHUNK.handle, handle);
    w.uint(CHUNK.version, info.version);
    w.uint(CHUNK.refCount, info.refCount);
    w.uint(CHUNK.inode, info.inode);
    w.uint(CHUNK.index, info.index);
    w.uint(CHUNK.confirmedVersion, info.confirmedVersion);
    w.end(mark);
  });
  for (const entry of ns.trash) {
    const mark = w.begin(SNAPSHOT.trash);
    w.uint(TRASH.inode, entry.inode);
    w.string(TRASH.originalPath, entry.originalPath);
    w.int(TRASH.deletedAtUs, entry.deletedAtUs);
    w.end(mark);
  }
  // Few (one per client), with enum names: protobufjs's ordinary conversion.
  const sessionType = sessionRecordType();
  for (const record of state.sessions.toRecords()) w.bytes(SNAPSHOT.sessions, sessionType.encode(sessionType.fromObject(record)).finish());
  for (const [serverId, nodeState] of state.nodeStates.entries()) {
    const mark = w.begin(SNAPSHOT.nodeStates);
    w.string(NODE_STATE.serverId, serverId);
    w.uint(NODE_STATE.state, nodeStateNumber(nodeState));
    w.end(mark);
  }
  return w.finish();
}

/**
 * Rebuilds the state from snapshot bytes, one record at a time. A snapshot
 * comes from disk or from a peer, so anything malformed or inconsistent is an
 * INVALID_ARGUMENT, never a crash; `check` (the state machine's invariant
 * checker) has the last word. Records must come in field order (inodes before
 * the entries and chunks that name them), as every protobuf encoder writes
 * them, and each table in ascending id order.
 */
export function decodeSnapshot(bytes: Uint8Array, check: (state: MachineState) => void): MachineState {
  let state: MachineState;
  try {
    state = read(new ProtoReader(bytes));
  } catch (err) {
    if (err instanceof DfsError) throw err;
    // WireError, protobufjs's errors, and AssertionError too: the half-built
    // state is thrown away, so a check the validation missed is still bad
    // input, not a broken replica.
    throw new DfsError('INVALID_ARGUMENT', `snapshot: cannot decode: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    check(state);
  } catch (err) {
    if (err instanceof AssertionError) throw new DfsError('INVALID_ARGUMENT', `snapshot: ${err.message}`, { cause: err });
    throw err;
  }
  return state;
}

function read(r: ProtoReader): MachineState {
  const restorer = new Restorer();
  const sessions: SessionRecord__Output[] = [];
  const sessionType = sessionRecordType();
  const nodeStates = new NodeStateTable();
  while (!r.done) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === WIRE_VARINT && field === SNAPSHOT.nextInode) restorer.nextInode = r.varint();
    else if (wire === WIRE_VARINT && field === SNAPSHOT.nextHandle) restorer.nextHandle = r.varint();
    else if (wire !== WIRE_LEN) r.skip(wire);
    else if (field === SNAPSHOT.config) restorer.config = readConfig(r);
    else if (field === SNAPSHOT.inodes) restorer.inode(readInode(r));
    else if (field === SNAPSHOT.entries) restorer.entry(readEntry(r));
    else if (field === SNAPSHOT.chunks) restorer.chunk(readChunk(r));
    else if (field === SNAPSHOT.trash) restorer.trashEntry(readTrash(r));
    else if (field === SNAPSHOT.sessions) sessions.push(sessionType.toObject(sessionType.decode(r.bytes()), CONVERSION) as SessionRecord__Output);
    else if (field === SNAPSHOT.nodeStates) readNodeState(r, nodeStates);
    else r.skip(wire);
  }
  return { config: restorer.config, namespace: restorer.finish(), sessions: SessionTable.fromRecords(sessions), nodeStates };
}

/** Reads the fields of one sub-message with `onField(field, wire)`, which must consume each. */
function readMessage(r: ProtoReader, onField: (field: number, wire: number) => boolean): void {
  const end = r.delimited();
  while (r.pos < end) {
    const tag = r.tag();
    if (!onField(tag >>> 3, tag & 7)) r.skip(tag & 7);
  }
  if (r.pos !== end) throw new WireError('sub-message overruns its length');
}

function readConfig(r: ProtoReader): ClusterConfig {
  const init = { chunkSizeBytes: '0', defaultReplication: 0, clusterId: '' };
  readMessage(r, (field, wire) => {
    if (field === INIT.chunkSizeBytes && wire === WIRE_VARINT) init.chunkSizeBytes = String(r.varint());
    else if (field === INIT.defaultReplication && wire === WIRE_VARINT) init.defaultReplication = r.varint();
    else if (field === INIT.clusterId && wire === WIRE_LEN) init.clusterId = r.string();
    else return false;
    return true;
  });
  return parseClusterConfig(init);
}

interface InodeFields {
  id: number;
  kind: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  atimeUs: number;
  mtimeUs: number;
  ctimeUs: number;
  replication: number;
  replicateAll: boolean;
  chunks: number[];
  parent: number;
  rdev: number;
  /** '' for every kind but symlinks (whose target is never empty): proto3 writes no default. */
  symlinkTarget: string;
}

function readInode(r: ProtoReader): InodeFields {
  const f: InodeFields = {
    id: 0,
    kind: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    nlink: 0,
    atimeUs: 0,
    mtimeUs: 0,
    ctimeUs: 0,
    replication: 0,
    replicateAll: false,
    chunks: [],
    parent: 0,
    rdev: 0,
    symlinkTarget: '',
  };
  readMessage(r, (field, wire) => {
    if (field === INODE.chunks) {
      r.repeated(wire, f.chunks);
      return true;
    }
    if (field === INODE.symlinkTarget && wire === WIRE_LEN) {
      f.symlinkTarget = r.string();
      return true;
    }
    if (wire !== WIRE_VARINT) return false;
    switch (field) {
      case INODE.id:
        f.id = r.varint();
        break;
      case INODE.kind:
        f.kind = r.varint();
        break;
      case INODE.mode:
        f.mode = r.varint();
        break;
      case INODE.uid:
        f.uid = r.varint();
        break;
      case INODE.gid:
        f.gid = r.varint();
        break;
      case INODE.size:
        f.size = r.varint();
        break;
      case INODE.nlink:
        f.nlink = r.varint();
        break;
      case INODE.atimeUs:
        f.atimeUs = r.int64();
        break;
      case INODE.mtimeUs:
        f.mtimeUs = r.int64();
        break;
      case INODE.ctimeUs:
        f.ctimeUs = r.int64();
        break;
      case INODE.replication:
        f.replication = r.varint();
        break;
      case INODE.replicateAll:
        f.replicateAll = r.bool();
        break;
      case INODE.parent:
        f.parent = r.varint();
        break;
      case INODE.rdev:
        f.rdev = r.varint();
        break;
      default:
        return false;
    }
    return true;
  });
  return f;
}

interface EntryFields {
  parent: number;
  name: string;
  child: number;
}

function readEntry(r: ProtoReader): EntryFields {
  const f: EntryFields = { parent: 0, name: '', child: 0 };
  readMessage(r, (field, wire) => {
    if (field === ENTRY.name && wire === WIRE_LEN) f.name = r.string();
    else if (field === ENTRY.parent && wire === WIRE_VARINT) f.parent = r.varint();
    else if (field === ENTRY.child && wire === WIRE_VARINT) f.child = r.varint();
    else return false;
    return true;
  });
  return f;
}

interface ChunkFields {
  handle: number;
  version: number;
  refCount: number;
  inode: number;
  index: number;
  confirmedVersion: number;
}

function readChunk(r: ProtoReader): ChunkFields {
  const f: ChunkFields = { handle: 0, version: 0, refCount: 0, inode: 0, index: 0, confirmedVersion: 0 };
  readMessage(r, (field, wire) => {
    if (wire !== WIRE_VARINT) return false;
    switch (field) {
      case CHUNK.handle:
        f.handle = r.varint();
        break;
      case CHUNK.version:
        f.version = r.varint();
        break;
      case CHUNK.refCount:
        f.refCount = r.varint();
        break;
      case CHUNK.inode:
        f.inode = r.varint();
        break;
      case CHUNK.index:
        f.index = r.varint();
        break;
      case CHUNK.confirmedVersion:
        f.confirmedVersion = r.varint();
        break;
      default:
        return false;
    }
    return true;
  });
  return f;
}

interface TrashFields {
  inode: number;
  originalPath: string;
  deletedAtUs: number;
}

function readTrash(r: ProtoReader): TrashFields {
  const f: TrashFields = { inode: 0, originalPath: '', deletedAtUs: 0 };
  readMessage(r, (field, wire) => {
    if (field === TRASH.inode && wire === WIRE_VARINT) f.inode = r.varint();
    else if (field === TRASH.originalPath && wire === WIRE_LEN) f.originalPath = r.string();
    else if (field === TRASH.deletedAtUs && wire === WIRE_VARINT) f.deletedAtUs = r.int64();
    else return false;
    return true;
  });
  return f;
}

function readNodeState(r: ProtoReader, into: NodeStateTable): void {
  let serverId = '';
  let number = 0;
  readMessage(r, (field, wire) => {
    if (field === NODE_STATE.serverId && wire === WIRE_LEN) serverId = r.string();
    else if (field === NODE_STATE.state && wire === WIRE_VARINT) number = r.varint();
    else return false;
    return true;
  });
  const state = nodeStateFromWire(number);
  if (!isValidServerId(serverId) || state === undefined || state === 'active') bad(`node state ${JSON.stringify(serverId)} = ${number} is not valid`);
  if (into.get(serverId) !== 'active') bad(`node ${serverId} has two states`);
  into.set(serverId, state);
}

const UINT32_MAX = 0xffffffff;

/**
 * Builds a namespace from snapshot records, validating each so that nothing
 * malformed reaches an assertion. Numbers that were not safe integers on the
 * wire arrive as NaN, which every range check below refuses.
 */
class Restorer {
  config: ClusterConfig | undefined;
  nextInode = 0;
  nextHandle = 0;
  private readonly ns = new Namespace();
  /** Directories some entry names: a directory has one entry at most. */
  private readonly linkedDirectories = new Set<number>();
  private readonly trash: TrashEntry[] = [];
  private lastInode = 0;
  private lastHandle = 0;
  private sawRoot = false;

  inode(f: InodeFields): void {
    const inodes = this.ns.inodes;
    const id = f.id;
    if (!(id > this.lastInode)) bad(`inode ${id} is out of order, repeated or not a safe integer`);
    this.lastInode = id;
    const kind = kindFromWire(f.kind) ?? bad(`inode ${id} has kind ${f.kind}`);
    if (!(f.mode <= 0o7777 && f.replication <= LIMITS.replicationMax && f.uid <= UINT32_MAX && f.gid <= UINT32_MAX && f.nlink <= UINT32_MAX)) {
      bad(`inode ${id} has a field out of range`);
    }
    if (!(f.size >= 0) || Number.isNaN(f.atimeUs) || Number.isNaN(f.mtimeUs) || Number.isNaN(f.ctimeUs)) bad(`inode ${id} has a bad size or time`);
    if (kind !== 'file' && f.chunks.length > 0) bad(`${kind} ${id} has chunks`);
    if ((kind === 'symlink') !== (f.symlinkTarget !== '')) bad(`${kind} ${id} has a symlink target, or a symlink has none`);
    if (kind === 'symlink') checked(() => requireSymlinkTarget(f.symlinkTarget), `symlink ${id} has a bad target`);
    if (!(f.rdev <= UINT32_MAX) || (f.rdev !== 0 && !isDevice(kind))) bad(`${kind} ${id} has a bad rdev`);
    if (!(f.parent >= 0) || (f.parent !== 0 && kind !== 'directory')) bad(`${kind} ${id} has a bad parent`);
    let row: number;
    if (id === ROOT_INODE) {
      if (kind !== 'directory') bad('the root is not a directory');
      this.sawRoot = true;
      row = inodes.rowOf(ROOT_INODE);
      inodes.setMode(row, f.mode);
      inodes.setUid(row, f.uid);
      inodes.setGid(row, f.gid);
      inodes.setReplication(row, f.replication);
      inodes.setReplicateAll(row, f.replicateAll);
      inodes.children(row).parent = f.parent;
    } else {
      row = inodes.add({
        id: id as InodeId,
        kind,
        mode: f.mode,
        uid: f.uid,
        gid: f.gid,
        timeUs: 0,
        replication: f.replication,
        replicateAll: f.replicateAll,
        parent: f.parent,
        ...(kind === 'symlink' ? { target: f.symlinkTarget } : {}),
        ...(isDevice(kind) ? { rdev: f.rdev } : {}),
      });
    }
    inodes.setSize(row, f.size);
    inodes.setNlink(row, f.nlink);
    inodes.setAtimeUs(row, f.atimeUs);
    inodes.setMtimeUs(row, f.mtimeUs);
    inodes.setCtimeUs(row, f.ctimeUs);
    if (kind === 'file') {
      if (f.chunks.length > LIMITS.chunksPerFileMax) bad(`file ${id} has too many chunks`);
      for (const handle of f.chunks) if (!(handle >= 0)) bad(`file ${id} has a bad chunk handle`);
      if (f.chunks.length > 0 && f.chunks[f.chunks.length - 1] === 0) bad(`file ${id}'s chunk list ends with a hole`);
      inodes.setChunks(row, f.chunks);
    }
  }

  entry(f: EntryFields): void {
    const inodes = this.ns.inodes;
    const parentRow = inodes.rowOf(f.parent);
    const childRow = inodes.rowOf(f.child);
    if (parentRow === -1 || !inodes.isDirectory(parentRow)) bad(`entry ${f.name} has a bad parent ${f.parent}`);
    if (childRow === -1 || f.child === ROOT_INODE) bad(`entry ${f.name} has a bad child ${f.child}`);
    if (!isValidName(f.name) || inodes.children(parentRow).has(f.name)) bad(`bad or repeated entry name ${JSON.stringify(f.name)}`);
    if (inodes.isDirectory(childRow)) {
      if (this.linkedDirectories.has(f.child)) bad(`directory ${f.child} has two entries`);
      this.linkedDirectories.add(f.child);
    }
    this.ns.restoreEntry(parentRow, f.name, f.child as InodeId);
  }

  chunk(f: ChunkFields): void {
    const inodes = this.ns.inodes;
    const handle = f.handle;
    if (!(handle > this.lastHandle)) bad(`chunk ${handle} is out of order, repeated or not a safe integer`);
    this.lastHandle = handle;
    if (!(f.confirmedVersion <= f.version)) bad(`chunk ${handle} has a bad version or is confirmed past it`);
    if (!(f.refCount >= 1 && f.refCount <= UINT32_MAX)) bad(`chunk ${handle} has a bad reference count`);
    if (!(f.index < LIMITS.chunksPerFileMax)) bad(`chunk ${handle} has a bad index`);
    const ownerRow = inodes.rowOf(f.inode);
    if (ownerRow === -1 || !inodes.isFile(ownerRow)) bad(`chunk ${handle} has a bad owner ${f.inode}`);
    this.ns.chunks.add({
      handle: handle as ChunkHandle,
      version: f.version as ChunkVersion,
      confirmedVersion: f.confirmedVersion as ChunkVersion,
      refCount: f.refCount,
      inode: f.inode as InodeId,
      index: f.index,
    });
  }

  trashEntry(f: TrashFields): void {
    if (Number.isNaN(f.deletedAtUs)) bad('bad trash time');
    const row = this.ns.inodes.rowOf(f.inode);
    if (row === -1 || f.inode === ROOT_INODE) bad(`trash holds bad inode ${f.inode}`);
    // Snapshots written before hard links kept nlink 1 on an unlinked inode; it has no entry left.
    if (!this.ns.inodes.isDirectory(row) && this.ns.inodes.nlink(row) === 1) this.ns.inodes.setNlink(row, 0);
    this.trash.push({ inode: f.inode as InodeId, originalPath: f.originalPath, deletedAtUs: f.deletedAtUs });
  }

  finish(): Namespace {
    if (!this.sawRoot) bad('the root is missing');
    if (!(this.nextInode > this.lastInode && this.nextHandle > this.lastHandle && this.nextHandle >= 1)) bad('counters are not above every id');
    // Parents, links and the trash are checked against each other by checkInvariants.
    this.ns.restoreState(this.nextInode, this.nextHandle, this.trash);
    return this.ns;
  }
}

/** Runs a validation that throws DfsError, as a snapshot error with `message`. */
function checked(check: () => void, message: string): void {
  try {
    check();
  } catch (err) {
    if (err instanceof DfsError) bad(message);
    throw err;
  }
}

function bad(message: string): never {
  throw errors.invalid(`snapshot: ${message}`);
}
