import type { Readable, Writable } from 'node:stream';
import { v4 as uuidv4 } from 'uuid';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../common/backoff.js';
import { DfsError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { ChunkIo } from './chunk-io.js';
import type { DfsClientOptions } from './client-options.js';
import { DfsFile, type FileDeps } from './dfs-file.js';
import { MasterClient } from './master-client.js';
import { createReadStream, createWriteStream } from './streams.js';
import { fromWireAttr, type DirEntry, type FileAttr } from './types.js';

const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const DEFAULT_LOCATION_TTL_MS = 30_000;

export interface CreateOptions {
  /** Permission bits; 0o644 by default. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Fail with ALREADY_EXISTS if the path exists. */
  exclusive?: boolean;
  /** Replicas per chunk (default: the cluster's), or 'all'. */
  replication?: number | 'all';
}

export interface MkdirOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Create missing parents; an existing directory is then not an error. */
  parents?: boolean;
}

export interface SetAttrOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  atimeMs?: number;
  mtimeMs?: number;
  replication?: number | 'all';
}

export interface ClusterInfo {
  chunkSizeBytes: number;
  defaultReplication: number;
  leaderAddress: string;
}

/**
 * The client of a cluster: metadata through the masters, data straight from
 * chunkservers. Paths are absolute and canonical ("/a/b"). Every failure is
 * a DfsError with a stable code; retryable ones are retried with backoff
 * before they surface.
 */
export class DfsClient {
  private appendSeq = 0;

  private constructor(
    private readonly master: MasterClient,
    private readonly io: ChunkIo,
    private readonly fileDeps: FileDeps,
    readonly cluster: ClusterInfo,
  ) {}

  static async connect(options: DfsClientOptions): Promise<DfsClient> {
    const retry: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.retry };
    const logger = options.logger ?? silentLogger;
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const random = Math.random;
    const master = new MasterClient(options.masters, options.clientId ?? uuidv4(), {
      retry,
      callTimeoutMs,
      random,
      logger,
      batching: options.metadataBatching ?? true,
    });
    const io = new ChunkIo({ locality: options.locality, callTimeoutMs, random, logger });
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
      });
      return client;
    } catch (err) {
      master.close();
      io.close();
      throw err;
    }
  }

  get clientId(): string {
    return this.master.clientId;
  }

  async stat(path: string): Promise<FileAttr> {
    return fromWireAttr((await this.master.call('Stat', { path })).attr);
  }

  /** Every entry of a directory, in byte order of names (fetched page by page). */
  async list(path: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    let startAfter = '';
    for (;;) {
      const page = await this.master.call('List', { path, startAfter, limit: 0 });
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
    });
    return fromWireAttr(response.attr);
  }

  /** Moves the entry to the trash; a directory must be empty unless `recursive`. */
  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.master.call('Delete', { requestId: this.master.requestId(), path, recursive: options.recursive ?? false });
  }

  /** Atomic, replacing an existing destination as rename(2) does unless `noReplace`. */
  async rename(source: string, destination: string, options: { noReplace?: boolean } = {}): Promise<void> {
    await this.master.call('Rename', {
      requestId: this.master.requestId(),
      source,
      destination,
      noReplace: options.noReplace ?? false,
    });
  }

  async setAttributes(path: string, attrs: SetAttrOptions): Promise<FileAttr> {
    const response = await this.master.call('SetAttr', {
      requestId: this.master.requestId(),
      path,
      ...(attrs.mode !== undefined ? { mode: attrs.mode } : {}),
      ...(attrs.uid !== undefined ? { uid: attrs.uid } : {}),
      ...(attrs.gid !== undefined ? { gid: attrs.gid } : {}),
      ...(attrs.atimeMs !== undefined ? { atimeUs: String(Math.round(attrs.atimeMs * 1000)) } : {}),
      ...(attrs.mtimeMs !== undefined ? { mtimeUs: String(Math.round(attrs.mtimeMs * 1000)) } : {}),
      ...(attrs.replication === 'all' ? { replicateAll: true } : {}),
      ...(typeof attrs.replication === 'number' ? { replication: attrs.replication, replicateAll: false } : {}),
    });
    return fromWireAttr(response.attr);
  }

  /** Opens a file; with `create`, creates it first if missing. */
  async open(path: string, options: { create?: CreateOptions | boolean } = {}): Promise<DfsFile> {
    const attr = options.create
      ? await this.create(path, options.create === true ? {} : options.create)
      : await this.stat(path);
    if (attr.kind === 'directory') throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
    return new DfsFile(this.fileDeps, path, attr, this.cluster.chunkSizeBytes);
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

  close(): void {
    this.master.close();
    this.io.close();
  }
}
