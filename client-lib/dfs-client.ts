import type { Readable, Writable } from 'node:stream';
import { v4 as uuidv4 } from 'uuid';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../common/backoff.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { clientSecurity } from '../security/node-security.js';
import { channelCredentials } from '../security/transport-security.js';
import { speaksTls } from '../security/tls-probe.js';
import { ChunkIo } from './chunk-io.js';
import type { DfsClientOptions } from './client-options.js';
import { DfsFile, type FileDeps } from './dfs-file.js';
import { MasterClient } from './master-client.js';
import { createReadStream, createWriteStream } from './streams.js';
import { processCaller, type WireCaller, wireCaller } from './caller.js';
import { type Caller, type DirEntry, type FileAttr, type FileKind, fromWireAttr, toWireKind } from './types.js';
import type { ListResponse__Output } from '../proto/generated/dfs/master/ListResponse.js';
import type { Attr__Output } from '../proto/generated/dfs/Attr.js';

const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const DEFAULT_LOCATION_TTL_MS = 30_000;

export interface CreateOptions {
  /** Permission bits; 0o644 by default. */
  mode?: number;
  /**
   * The owner and group, when not the caller's (or the set-group-ID
   * parent's): allowed as a chown by the caller right after would be (root;
   * a group the caller is in).
   */
  uid?: number;
  gid?: number;
  /** Fail with ALREADY_EXISTS if the path exists. */
  exclusive?: boolean;
  /** Replicas per chunk (default: the cluster's), or 'all'. */
  replication?: number | 'all';
}

export interface MkdirOptions {
  mode?: number;
  /** As in CreateOptions. */
  uid?: number;
  gid?: number;
  /** Create missing parents; an existing directory is then not an error. */
  parents?: boolean;
}

export interface SetAttrOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** A time, or 'now': the time the master applies the change (UTIME_NOW). */
  atimeMs?: number | 'now';
  mtimeMs?: number | 'now';
  replication?: number | 'all';
}

/** What makeNode makes: mknod(2), mkdir(2), symlink(2) or open(2) with O_CREAT. */
export interface NodeSpec {
  kind: FileKind;
  /** Permission bits (07777); symlinks always get 0777. */
  mode: number;
  /** Char and block devices: the device number. */
  rdev?: number;
  /** Symlinks: the target, 1 to 4095 bytes. */
  target?: string;
  /** Files: fail with ALREADY_EXISTS if the name exists (otherwise the existing file is returned). Other kinds always fail. */
  exclusive?: boolean;
}

/** chmod, chown and utimensat by inode. */
export interface InodeAttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  atimeMs?: number | 'now';
  mtimeMs?: number | 'now';
}

export interface RenameAtOptions {
  /** RENAME_NOREPLACE: fail with ALREADY_EXISTS if the new name exists. */
  noReplace?: boolean;
  /** RENAME_EXCHANGE: both names must exist; they swap. */
  exchange?: boolean;
}

export interface ClusterInfo {
  chunkSizeBytes: number;
  defaultReplication: number;
  leaderAddress: string;
}

/** What a namespace change made, and the directory it changed as it was right after (absent when the master no longer had it). */
export interface Changed {
  attr: FileAttr;
  parent?: FileAttr;
}

function changed(attr: Attr__Output | null | undefined, parent: Attr__Output | null | undefined): Changed {
  const made = { attr: fromWireAttr(attr ?? null) };
  return parent ? { ...made, parent: fromWireAttr(parent) } : made;
}

/**
 * The client of a cluster: metadata through the masters, data straight from
 * chunkservers. Paths are absolute and canonical ("/a/b"); the inode
 * methods (lookup, makeNode, …) name entries as a directory's inode and a
 * name, as the kernel's FUSE API does (the root is inode 1). Every request
 * carries a caller, the client's unless one is given: the master checks it
 * as Linux would. Every failure is a DfsError with a stable code (its
 * `errno` is the one to report); retryable ones are retried with backoff
 * before they surface.
 */
export class DfsClient {
  private appendSeq = 0;

  private constructor(
    private readonly master: MasterClient,
    private readonly io: ChunkIo,
    private readonly fileDeps: FileDeps,
    readonly cluster: ClusterInfo,
    private readonly defaultCaller: WireCaller,
  ) {}

  static async connect(options: DfsClientOptions): Promise<DfsClient> {
    const retry: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.retry };
    const logger = options.logger ?? silentLogger;
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const random = Math.random;
    const caller = wireCaller(options.caller ?? processCaller());
    const credentials = channelCredentials(await clientSecurity(options.security));
    const master = new MasterClient(options.masters, options.clientId ?? uuidv4(), {
      credentials,
      retry,
      callTimeoutMs,
      random,
      logger,
      batching: options.metadataBatching ?? true,
      sessions: options.metadataSessions ?? true,
    });
    const io = new ChunkIo({ locality: options.locality, callTimeoutMs, random, logger, readSessions: options.readSessions ?? true, appendSessions: options.appendSessions ?? true }, credentials);
    try {
      const info = await master.call('GetClusterInfo', {});
      let client: DfsClient | undefined;
      const deps: FileDeps = {
        master,
        io,
        retry,
        random,
        logger,
        locationCacheTtlMs: options.locationCacheTtlMs ?? DEFAULT_LOCATION_TTL_MS,
        nextAppendSeq: () => ++client!.appendSeq,
      };
      client = new DfsClient(master, io, deps, {
        chunkSizeBytes: Number(info.chunkSizeBytes),
        defaultReplication: info.defaultReplication,
        leaderAddress: info.leaderAddress,
      }, caller);
      return client;
    } catch (err) {
      master.close();
      io.close();
      throw 'insecure' in options.security && isDfsError(err, 'UNAVAILABLE') ? await explainPlaintextRefusal(options.masters, err) : err;
    }
  }

  get clientId(): string {
    return this.master.clientId;
  }

  /** The caller this client's requests carry unless one is given. */
  get caller(): Caller {
    return this.defaultCaller;
  }

  async stat(path: string): Promise<FileAttr> {
    return fromWireAttr((await this.master.call('Stat', { path, caller: this.defaultCaller })).attr);
  }

  /** Every entry of a directory, in byte order of names (fetched page by page). */
  async list(path: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    let startAfter = '';
    for (;;) {
      const page = await this.master.call('List', { path, startAfter, limit: 0, caller: this.defaultCaller });
      for (const e of page.entries) out.push({ name: e.name, attr: fromWireAttr(e.attr) });
      if (!page.hasMore || page.entries.length === 0) return out;
      startAfter = page.entries[page.entries.length - 1]!.name;
    }
  }

  async mkdir(path: string, options: MkdirOptions = {}): Promise<FileAttr> {
    const response = await this.master.call('Mkdir', {
      requestId: this.master.requestId(),
      path,
      mode: options.mode ?? 0o755,
      uid: options.uid ?? 0,
      gid: options.gid ?? 0,
      parents: options.parents ?? false,
      caller: this.defaultCaller,
    });
    return fromWireAttr(response.attr);
  }

  /** Creates a file, or returns the existing one unless `exclusive`. */
  async create(path: string, options: CreateOptions = {}): Promise<FileAttr> {
    const response = await this.master.call('Create', {
      requestId: this.master.requestId(),
      path,
      mode: options.mode ?? 0o644,
      uid: options.uid ?? 0,
      gid: options.gid ?? 0,
      exclusive: options.exclusive ?? false,
      replication: typeof options.replication === 'number' ? options.replication : 0,
      replicateAll: options.replication === 'all',
      caller: this.defaultCaller,
    });
    return fromWireAttr(response.attr);
  }

  /** Moves the entry to the trash; a directory must be empty unless `recursive`. */
  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.master.call('Delete', { requestId: this.master.requestId(), path, recursive: options.recursive ?? false, caller: this.defaultCaller });
  }

  /** Atomic, replacing an existing destination as rename(2) does unless `noReplace`. */
  async rename(source: string, destination: string, options: { noReplace?: boolean } = {}): Promise<void> {
    await this.master.call('Rename', {
      requestId: this.master.requestId(),
      source,
      destination,
      noReplace: options.noReplace ?? false,
      caller: this.defaultCaller,
    });
  }

  async setAttributes(path: string, attrs: SetAttrOptions): Promise<FileAttr> {
    const response = await this.master.call('SetAttr', {
      requestId: this.master.requestId(),
      path,
      ...timedChanges(attrs),
      ...(attrs.replication === 'all' ? { replicateAll: true } : {}),
      ...(typeof attrs.replication === 'number' ? { replication: attrs.replication, replicateAll: false } : {}),
      caller: this.defaultCaller,
    });
    return fromWireAttr(response.attr);
  }

  /** Opens a file; with `create`, creates it first if missing. */
  async open(path: string, options: { create?: CreateOptions | boolean } = {}): Promise<DfsFile> {
    const attr = options.create
      ? await this.create(path, options.create === true ? {} : options.create)
      : await this.stat(path);
    return this.fileOf(path, attr, this.defaultCaller);
  }

  // ----- by inode (the FUSE mount's API) -----

  /** The entry `name` of directory `parent` (NOT_FOUND if absent); needs search on `parent`. */
  async lookup(parent: number, name: string, caller?: Caller): Promise<FileAttr> {
    const response = await this.master.call('Lookup', { parent: String(parent), name, caller: this.callerOf(caller) });
    return fromWireAttr(response.attr);
  }

  /** Any inode, live or unlinked (until the trash is purged), as fstat(2): no permission needed. */
  async statInode(inode: number): Promise<FileAttr> {
    return fromWireAttr((await this.master.call('StatInode', { inode: String(inode) })).attr);
  }

  /** A page of directory `dir`, names after `startAfter` in byte order; `limit` 0 is the server's page size. Needs read on `dir`. */
  async readDir(dir: number, startAfter: string, limit: number, caller?: Caller): Promise<{ entries: DirEntry[]; hasMore: boolean }> {
    const page = await this.master.call('ReadDir', { inode: String(dir), startAfter, limit, caller: this.callerOf(caller) });
    return entriesOf(page);
  }

  /** mknod(2), mkdir(2), symlink(2), or open(2) with O_CREAT, of `name` in `parent`. */
  async makeNode(parent: number, name: string, spec: NodeSpec, caller?: Caller): Promise<FileAttr> {
    return (await this.makeNodeIn(parent, name, spec, caller)).attr;
  }

  /** makeNode, with the directory as it was right after (when the master still has it). */
  async makeNodeIn(parent: number, name: string, spec: NodeSpec, caller?: Caller): Promise<Changed> {
    const response = await this.master.call('MakeNode', {
      requestId: this.master.requestId(),
      parent: String(parent),
      name,
      kind: toWireKind(spec.kind),
      mode: spec.mode,
      rdev: spec.rdev ?? 0,
      target: spec.target ?? '',
      exclusive: spec.exclusive ?? false,
      caller: this.callerOf(caller),
    });
    return changed(response.attr, response.parent);
  }

  /** A symlink's target. */
  async readlink(inode: number): Promise<string> {
    return (await this.master.call('Readlink', { inode: String(inode) })).target;
  }

  /** link(2): `newName` in `newParent` becomes another name of `inode` (not a directory). */
  async link(inode: number, newParent: number, newName: string, caller?: Caller): Promise<FileAttr> {
    return (await this.linkIn(inode, newParent, newName, caller)).attr;
  }

  /** link, with the directory as it was right after (when the master still has it). */
  async linkIn(inode: number, newParent: number, newName: string, caller?: Caller): Promise<Changed> {
    const response = await this.master.call('Link', {
      requestId: this.master.requestId(),
      inode: String(inode),
      newParent: String(newParent),
      newName,
      caller: this.callerOf(caller),
    });
    return changed(response.attr, response.parent);
  }

  /** unlink(2), or rmdir(2) with `directory`; never recursive. The last link's inode stays reachable by inode until the trash is purged. */
  async remove(parent: number, name: string, options: { directory: boolean }, caller?: Caller): Promise<FileAttr | undefined> {
    const response = await this.master.call('Remove', {
      requestId: this.master.requestId(),
      parent: String(parent),
      name,
      directory: options.directory,
      caller: this.callerOf(caller),
    });
    // The directory right after, when the master still has it.
    return response.parent ? fromWireAttr(response.parent) : undefined;
  }

  /** renameat2(2), with RENAME_NOREPLACE or RENAME_EXCHANGE. */
  async renameAt(parent: number, name: string, newParent: number, newName: string, options: RenameAtOptions, caller?: Caller): Promise<void> {
    await this.master.call('RenameAt', {
      requestId: this.master.requestId(),
      parent: String(parent),
      name,
      newParent: String(newParent),
      newName,
      noReplace: options.noReplace ?? false,
      exchange: options.exchange ?? false,
      caller: this.callerOf(caller),
    });
  }

  /** chmod, chown and utimensat of `inode`, with Linux's rules for the caller. */
  async setAttrInode(inode: number, changes: InodeAttrChanges, caller?: Caller): Promise<FileAttr> {
    const response = await this.master.call('SetAttrInode', {
      requestId: this.master.requestId(),
      inode: String(inode),
      ...timedChanges(changes),
      caller: this.callerOf(caller),
    });
    return fromWireAttr(response.attr);
  }

  /** A read's access-time update (relatime): atime becomes now; ctime stays; no permission is needed. */
  async touchAtime(inode: number): Promise<FileAttr> {
    const response = await this.master.call('SetAttrInode', {
      requestId: this.master.requestId(),
      inode: String(inode),
      atimeAccess: true,
    });
    return fromWireAttr(response.attr);
  }

  /** Opens the file `inode`, as open() does by path; its truncations and writes carry `caller`. */
  async openInode(inode: number, caller?: Caller): Promise<DfsFile> {
    return this.fileOf(`inode ${inode}`, await this.statInode(inode), this.callerOf(caller));
  }

  /** Opens a file whose attributes were just fetched (a create, a fresh stat): no round trip. */
  openAttr(attr: FileAttr, caller?: Caller): DfsFile {
    if (attr.kind !== 'file') throw new DfsError(attr.kind === 'directory' ? 'IS_A_DIRECTORY' : 'INVALID_ARGUMENT', `inode ${attr.inode} is a ${attr.kind}`);
    return this.fileOf(`inode ${attr.inode}`, attr, this.callerOf(caller));
  }

  async readFile(path: string): Promise<Buffer> {
    const file = await this.open(path);
    return file.read(0, file.stat.size);
  }

  async read(path: string, offset: number, length: number): Promise<Buffer> {
    return (await this.open(path)).read(offset, length);
  }

  /** Replaces the file's contents (creating it if needed). */
  async writeFile(path: string, data: Buffer, options: CreateOptions = {}): Promise<void> {
    const file = await this.open(path, { create: options });
    try {
      if (file.stat.size > 0) await file.truncate(0);
      await file.write(0, data);
    } finally {
      await file.close();
    }
  }

  async write(path: string, offset: number, data: Buffer): Promise<void> {
    const file = await this.open(path);
    try {
      await file.write(offset, data);
    } finally {
      await file.close();
    }
  }

  /** Appends one record; returns its offset in the file. The file must exist. */
  async append(path: string, record: Buffer): Promise<number> {
    return (await this.open(path)).append(record);
  }

  async truncate(path: string, size: number): Promise<void> {
    const file = await this.open(path);
    try {
      await file.truncate(size);
    } finally {
      await file.close();
    }
  }

  async createReadStream(path: string, options: { start?: number; end?: number } = {}): Promise<Readable> {
    return createReadStream(await this.open(path), options);
  }

  /** A stream that replaces the file's contents ("w"), or writes after its end ("a"). */
  async createWriteStream(path: string, options: CreateOptions & { flags?: 'w' | 'a' } = {}): Promise<Writable> {
    const file = await this.open(path, { create: options });
    if (options.flags !== 'a' && file.stat.size > 0) await file.truncate(0);
    return createWriteStream(file, { start: options.flags === 'a' ? file.stat.size : 0, onClose: () => file.close() });
  }

  async clusterHealth() {
    return this.master.callAdmin('ClusterHealth', {});
  }

  async listChunkservers() {
    return (await this.master.callAdmin('ListChunkservers', {})).servers;
  }

  /** The Raft group of the masters as the master answering sees it (the leader's view is the full one). */
  async raftStatus() {
    return this.master.callAdmin('RaftStatus', {});
  }

  /** Adds the master at `address` (started with --join); resolves once it votes. */
  async addMaster(address: string) {
    return this.master.callAdmin('AddMaster', { address });
  }

  async removeMaster(id: string) {
    return this.master.callAdmin('RemoveMaster', { id });
  }

  async transferLeadership(id: string) {
    return this.master.callAdmin('TransferLeadership', { id });
  }

  /** One page of the health check under `path`: pass `nextCursor` back until it is empty. */
  async fsck(path: string, cursor = '', maxItems = 0) {
    return this.master.callAdmin('Fsck', { path, cursor, maxItems });
  }

  /** How far the file at `path` has got to every node (replication `all`); `maxNodes` per-node rows, least complete first. */
  async distributionStatus(path: string, maxNodes = 0) {
    return this.master.callAdmin('DistributionStatus', { path, maxNodes });
  }

  /** Decommission a chunkserver (by id or address), put it in or out of maintenance, or make it active again. */
  async setNodeState(node: string, state: 'active' | 'decommissioning' | 'maintenance') {
    const wire = { active: 'NODE_ADMIN_STATE_ACTIVE', decommissioning: 'NODE_ADMIN_STATE_DECOMMISSIONING', maintenance: 'NODE_ADMIN_STATE_MAINTENANCE' } as const;
    return this.master.callAdmin('SetNodeState', { node, state: wire[state] });
  }

  /** Plans (and unless `dryRun`, starts) moving replicas from full to empty chunkservers. 0 picks the master's default. */
  async rebalance(options: { thresholdPct?: number; maxConcurrent?: number; dryRun?: boolean } = {}) {
    return this.master.callAdmin('Rebalance', {
      thresholdPct: options.thresholdPct ?? 0,
      maxConcurrent: options.maxConcurrent ?? 0,
      dryRun: options.dryRun ?? false,
    });
  }

  async rebalanceStatus() {
    return this.master.callAdmin('RebalanceStatus', {});
  }

  close(): void {
    this.master.close();
    this.io.close();
  }

  private callerOf(caller: Caller | undefined): WireCaller {
    return caller === undefined ? this.defaultCaller : wireCaller(caller);
  }

  private fileOf(name: string, attr: FileAttr, caller: WireCaller): DfsFile {
    if (attr.kind === 'directory') throw new DfsError('IS_A_DIRECTORY', `${name} is a directory`);
    if (attr.kind !== 'file') throw new DfsError('INVALID_ARGUMENT', `${name} is a ${attr.kind}, not a regular file`);
    return new DfsFile(this.fileDeps, name, attr, this.cluster.chunkSizeBytes, caller);
  }
}

/** The mode, owner and time fields of a SetAttr or SetAttrInode request. */
function timedChanges(changes: InodeAttrChanges): {
  mode?: number;
  uid?: number;
  gid?: number;
  atimeUs?: string;
  mtimeUs?: string;
  atimeNow: boolean;
  mtimeNow: boolean;
} {
  const us = (ms: number) => String(Math.round(ms * 1000));
  return {
    ...(changes.mode !== undefined ? { mode: changes.mode } : {}),
    ...(changes.uid !== undefined ? { uid: changes.uid } : {}),
    ...(changes.gid !== undefined ? { gid: changes.gid } : {}),
    ...(typeof changes.atimeMs === 'number' ? { atimeUs: us(changes.atimeMs) } : {}),
    ...(typeof changes.mtimeMs === 'number' ? { mtimeUs: us(changes.mtimeMs) } : {}),
    atimeNow: changes.atimeMs === 'now',
    mtimeNow: changes.mtimeMs === 'now',
  };
}

function entriesOf(page: ListResponse__Output): { entries: DirEntry[]; hasMore: boolean } {
  return { entries: page.entries.map((e) => ({ name: e.name, attr: fromWireAttr(e.attr) })), hasMore: page.hasMore };
}

/**
 * A TLS server drops a plaintext client's connection before any gRPC status
 * can say why, so the client sees only UNAVAILABLE. If a master completes a
 * TLS handshake, say so; otherwise the masters are down, as `err` says.
 */
async function explainPlaintextRefusal(masters: readonly string[], err: DfsError): Promise<DfsError> {
  for (const address of masters) {
    if (await speaksTls(address, 2_000)) {
      return new DfsError('UNAUTHENTICATED', `the master at ${address} accepts TLS connections only: connect with --tls-dir (credentials from dfs security issue) or a token, not --insecure`, { cause: err });
    }
  }
  return err;
}
