import type { BackoffPolicy } from '../common/backoff.js';
import { MAY_WRITE, permits } from '../common/access.js';
import { joinParts, partsLength, type ByteParts } from '../common/byte-parts.js';
import { DfsError } from '../common/errors.js';
import { chunkHandle, type ChunkHandle } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import type { GetChunksResponse__Output } from '../proto/generated/dfs/master/GetChunksResponse.js';
import type { WireCaller } from './caller.js';
import type { ChunkInfo, ChunkIo } from './chunk-io.js';
import { ChunkWriteSession, type LeaseInfo } from './chunk-write-session.js';
import type { MasterClient } from './master-client.js';
import { withRetry } from './retry.js';
import { MaxCommitter } from '../common/max-committer.js';
import { fromWireAttr, type FileAttr } from './types.js';

export interface FileDeps {
  master: MasterClient;
  io: ChunkIo;
  retry: BackoffPolicy;
  random: () => number;
  logger: Logger;
  locationCacheTtlMs: number;
  /** Record-append sequence numbers, unique per client across all files. */
  nextAppendSeq(): number;
}

/** Chunk locations fetched per GetChunks call: sequential readers need the next ones soon. */
const CHUNK_PREFETCH = 16;
/** Chunk ranges read at once by one large read. */
const READ_PARALLELISM = 4;
/** Leases are renewed this long before the master's expiry. */
const LEASE_MARGIN_MS = 1_000;

interface CachedChunk {
  info: ChunkInfo | undefined;
  fetchedAtMs: number;
}

/**
 * An open file, bound to its inode (a rename does not disturb it, nor an
 * unlink: the master keeps the inode until its trash is purged). Caches
 * chunk locations and leases; every operation retries what is retryable.
 * Writes and appends resolve only when every replica has the bytes durable
 * and the master records the new size. Truncations and size commits carry
 * the caller that opened it: the master checks a truncation's write
 * permission, and clears set-user-ID bits on writes as Linux does.
 */
export class DfsFile {
  private attr: FileAttr;
  private readonly chunks = new Map<number, CachedChunk>();
  private readonly leases = new Map<ChunkHandle, LeaseInfo>();
  private readonly sessions = new Map<number, ChunkWriteSession>();
  private readonly sizes: MaxCommitter;

  constructor(
    private readonly deps: FileDeps,
    /** The path it was opened by, or "inode N" when opened by inode. */
    readonly path: string,
    attr: FileAttr,
    readonly chunkSizeBytes: number,
    private readonly caller: WireCaller,
  ) {
    this.attr = attr;
    this.sizes = new MaxCommitter(attr.size, async (end) => {
      const response = await deps.master.call('CommitWrite', {
        requestId: deps.master.requestId(),
        inode: String(this.attr.inode),
        endOffset: String(end),
        caller: this.caller,
      });
      this.attr = fromWireAttr(response.attr);
      return this.attr.size;
    });
  }

  get inode(): number {
    return this.attr.inode;
  }

  /** The attributes as last seen; refresh() asks the master. */
  get stat(): FileAttr {
    return this.attr;
  }

  /**
   * Attributes the master has just given for this file (the mount's open of
   * a file it already holds open). If the file changed since this one last
   * heard, another client wrote it: the chunk locations cached before, holes
   * included, may no longer hold, so they are asked for again (close-to-open).
   */
  observe(fresh: FileAttr): void {
    const seen = this.attr;
    if (fresh.mtimeMs === seen.mtimeMs && fresh.size === seen.size && fresh.chunkCount === seen.chunkCount) return;
    this.chunks.clear();
    this.heard(fresh);
  }

  /** Attributes from the master: the file's as it now is. */
  private heard(attr: FileAttr): void {
    this.attr = attr;
    this.sizes.observe(attr.size);
  }

  async refresh(): Promise<FileAttr> {
    this.learn(await this.deps.master.call('GetChunks', { inode: String(this.attr.inode), firstIndex: '0', count: 0 }));
    return this.attr;
  }

  /** Reads up to `length` bytes at `offset`; fewer at the end of the file. Holes read as zeros. */
  async read(offset: number, length: number): Promise<Buffer> {
    return joinParts(await this.readParts(offset, length));
  }

  /** As read(), with the bytes left in the frames they came in (no copy into one buffer). */
  async readParts(offset: number, length: number): Promise<ByteParts> {
    checkRange(offset, length);
    if (offset + length > this.attr.size) await this.refresh();
    const end = Math.min(offset + length, this.attr.size);
    if (end <= offset) return [];
    const pieces = this.split(offset, end - offset);
    const read: ByteParts[] = new Array(pieces.length);
    await runLimited(pieces, READ_PARALLELISM, async (piece, i) => {
      const data = await this.readPiece(piece.index, piece.chunkOffset, piece.length);
      const got = partsLength(data);
      read[i] = got === piece.length ? data : [...data, Buffer.alloc(piece.length - got)];
    });
    return read.flat();
  }

  private readPiece(index: number, offset: number, length: number): Promise<ByteParts> {
    return withRetry(
      this.deps.retry,
      this.deps.random,
      async () => {
        let chunk = await this.chunk(index, false);
        if (chunk?.version === 0) {
          // Allocated and not yet written when cached: a write (ours or another
          // client's) may have reached it since, so the master decides.
          this.forgetChunk(index);
          chunk = await this.chunk(index, false);
        }
        // A hole, or a chunk no write has reached yet: zeros.
        if (chunk === undefined || chunk.version === 0) return [];
        return this.deps.io.readParts(chunk, offset, length);
      },
      () => this.forgetChunk(index),
    );
  }

  /** Writes `data` at `offset`, across chunk boundaries; resolves when durable everywhere and the size is committed. */
  async write(offset: number, data: Buffer): Promise<void> {
    checkRange(offset, data.length);
    const touched = new Set<ChunkWriteSession>();
    for (const piece of this.split(offset, data.length)) {
      const session = await this.session(piece.index);
      touched.add(session);
      for (let done = 0; done < piece.length; done += LIMITS.dataPacketMaxBytes) {
        const n = Math.min(LIMITS.dataPacketMaxBytes, piece.length - done);
        const start = piece.fileOffset - offset + done;
        await session.write(piece.chunkOffset + done, data.subarray(start, start + n));
      }
    }
    await Promise.all([...touched].map((s) => s.flush()));
    await this.sizes.ensure(offset + data.length);
  }

  /**
   * Queues bytes without waiting for durability (for streams); flush()
   * waits. The caller writes sequentially and commits the size itself.
   * The bytes are copied into packets before this resolves: the caller may
   * reuse `data` once it settles.
   */
  async writeQueued(offset: number, data: Buffer): Promise<void> {
    for (const piece of this.split(offset, data.length)) {
      const session = await this.session(piece.index);
      await session.write(piece.chunkOffset, data.subarray(piece.fileOffset - offset, piece.fileOffset - offset + piece.length));
    }
  }

  /** Waits for every queued write, then records `end` as the least file size. */
  async flush(end?: number): Promise<void> {
    await this.flushSessions();
    if (end !== undefined) await this.sizes.ensure(end);
  }

  /**
   * Waits for every queued write, then records that bytes up to `end` were
   * written at `writtenAtMs` (the file's mtime; its size grows to `end` if
   * smaller), even if the size does not change: a write-back that reaches
   * the master late still dates the change when it was made.
   */
  async commitData(end: number, writtenAtMs: number): Promise<void> {
    await this.flushSessions();
    const response = await this.deps.master.call('CommitWrite', {
      requestId: this.deps.master.requestId(),
      inode: String(this.attr.inode),
      endOffset: String(end),
      caller: this.caller,
      writtenAtUs: String(Math.round(writtenAtMs * 1000)),
    });
    this.attr = fromWireAttr(response.attr);
    this.sizes.observe(this.attr.size);
  }

  /**
   * Record append: the file's last chunk's primary chooses where the record
   * goes, and answers once it is durable everywhere and covered by the file
   * size. Returns the record's offset in the file. A retry after a failure
   * carries the same sequence number to the same chunk, so the record lands
   * exactly once; only a definite "chunk full" moves it to the next chunk.
   */
  async append(data: Buffer): Promise<number> {
    if (data.length === 0) throw new DfsError('INVALID_ARGUMENT', 'an empty record cannot be appended');
    const maxRecord = Math.min(LIMITS.dataPacketMaxBytes, this.chunkSizeBytes / LIMITS.appendRecordMaxFraction);
    if (data.length > maxRecord) throw new DfsError('TOO_LARGE', `a record may be at most ${maxRecord} bytes`);
    const seq = this.deps.nextAppendSeq();
    let index = Math.max(0, this.attr.chunkCount - 1);
    for (;;) {
      try {
        const offset = await withRetry(
          this.deps.retry,
          this.deps.random,
          async () => {
            const chunk = await this.chunk(index, true);
            const lease = await this.lease(chunk!.handle, false, index);
            return this.deps.io.append(lease.primary, {
              handle: lease.handle,
              version: lease.version,
              clientId: this.deps.master.clientId,
              seq,
              data,
              accessToken: lease.accessToken,
            });
          },
          (err) => this.onChunkError(index, err),
        );
        // The primary has already grown the file's size over the record.
        const fileOffset = index * this.chunkSizeBytes + offset;
        this.sizes.observe(fileOffset + data.length);
        return fileOffset;
      } catch (err) {
        if (!(err instanceof DfsError && err.code === 'CHUNK_FULL')) throw err;
        index = Math.max(index + 1, this.attr.chunkCount - 1);
      }
    }
  }

  /** Cuts or extends the file to `size` bytes; the caller that opened it needs write permission (PERMISSION_DENIED). */
  async truncate(size: number): Promise<void> {
    checkRange(size, 0);
    await this.refresh();
    // The chunk is cut before the master records the size: a caller the
    // master would refuse must not get that far. The master checks again.
    if (!permits(this.attr, this.caller, MAY_WRITE)) {
      throw new DfsError('PERMISSION_DENIED', `permission denied: write on inode ${this.attr.inode}`);
    }
    const boundary = Math.min(size, this.attr.size);
    const index = Math.floor(boundary / this.chunkSizeBytes);
    const within = boundary % this.chunkSizeBytes;
    const chunk = within === 0 ? undefined : await this.chunk(index, false);
    if (chunk !== undefined && chunk.version > 0) {
      const session = await this.session(index);
      await session.truncate(within);
      await session.flush();
    }
    const response = await this.deps.master.call('Truncate', {
      requestId: this.deps.master.requestId(),
      inode: String(this.attr.inode),
      size: String(size),
      caller: this.caller,
    });
    this.attr = fromWireAttr(response.attr);
    this.sizes.reset(this.attr.size);
    for (const i of [...this.chunks.keys()]) if (i * this.chunkSizeBytes >= size) this.chunks.delete(i);
  }

  /** Flushes and releases the write streams. */
  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
  }

  /** Every queued write durable on every replica. */
  private async flushSessions(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.flush()));
  }

  private async session(index: number): Promise<ChunkWriteSession> {
    const existing = this.sessions.get(index);
    if (existing !== undefined) return existing;
    const chunk = await withRetry(this.deps.retry, this.deps.random, () => this.chunk(index, true));
    const session = new ChunkWriteSession(
      {
        io: this.deps.io,
        lease: (handle, refresh) => this.lease(handle, refresh, index),
        clientId: this.deps.master.clientId,
        retry: this.deps.retry,
        random: this.deps.random,
        logger: this.deps.logger,
      },
      chunk!.handle,
    );
    this.sessions.set(index, session);
    return session;
  }

  /** The chunk at `index`: from the cache, from the master, or newly allocated. */
  private async chunk(index: number, allocate: boolean): Promise<ChunkInfo | undefined> {
    const cached = this.chunks.get(index);
    if (cached !== undefined && performance.now() - cached.fetchedAtMs < this.deps.locationCacheTtlMs) {
      if (cached.info !== undefined || !allocate) return cached.info;
    }
    if (index < this.attr.chunkCount || !allocate) {
      this.learn(
        await this.deps.master.call('GetChunks', {
          inode: String(this.attr.inode),
          firstIndex: String(index),
          count: CHUNK_PREFETCH,
        }),
        index,
      );
      const info = this.chunks.get(index)?.info;
      if (info !== undefined || !allocate) return info;
    }
    this.learn(
      await this.deps.master.call('AllocateChunk', {
        requestId: this.deps.master.requestId(),
        inode: String(this.attr.inode),
        index: String(index),
      }),
    );
    return this.chunks.get(index)?.info;
  }

  /** Takes in a GetChunks answer; indices in [from, from + prefetch) it leaves out are holes. */
  private learn(response: GetChunksResponse__Output, holesFrom?: number): void {
    this.heard(fromWireAttr(response.attr));
    const now = performance.now();
    if (holesFrom !== undefined) {
      const end = Math.min(holesFrom + CHUNK_PREFETCH, this.attr.chunkCount);
      for (let i = holesFrom; i < end; i++) this.chunks.set(i, { info: undefined, fetchedAtMs: now });
    }
    for (const c of response.chunks) {
      const index = Number(c.index);
      this.chunks.set(index, {
        info: { index, handle: chunkHandle(c.handle), version: Number(c.version), replicas: c.replicas, accessToken: c.accessToken },
        fetchedAtMs: now,
      });
    }
  }

  private forgetChunk(index: number): void {
    this.chunks.delete(index);
  }

  private onChunkError(index: number, err: DfsError): void {
    const handle = this.chunks.get(index)?.info?.handle;
    if (handle !== undefined && err.code !== 'OVERLOADED') this.leases.delete(handle);
    if (err.code === 'STALE_VERSION' || err.code === 'NOT_FOUND' || err.code === 'TOKEN_EXPIRED') this.forgetChunk(index);
  }

  /** The chunk's lease; the cached locations of chunk `index` learn the version it was granted at, so this file reads what it writes. */
  private async lease(handle: ChunkHandle, refresh: boolean, index: number): Promise<LeaseInfo> {
    const cached = this.leases.get(handle);
    if (!refresh && cached !== undefined && performance.now() < cached.expiresAtMs) return cached;
    const response = await this.deps.master.call('GetLease', { handle: String(handle) });
    const lease = response.lease;
    if (lease === null || lease.primary === null) throw new DfsError('UNAVAILABLE', `no lease for chunk ${handle}`);
    const info: LeaseInfo = {
      handle,
      version: Number(lease.version),
      primary: lease.primary,
      expiresAtMs: performance.now() + Math.max(0, Number(lease.expiresInMs) - LEASE_MARGIN_MS),
      accessToken: lease.accessToken,
    };
    this.leases.set(handle, info);
    const located = this.chunks.get(index)?.info;
    if (located !== undefined && located.handle === handle && located.version < info.version) located.version = info.version;
    return info;
  }

  /** Splits a byte range of the file into its pieces in each chunk. */
  private split(offset: number, length: number): { index: number; chunkOffset: number; fileOffset: number; length: number }[] {
    const pieces = [];
    for (let pos = offset; pos < offset + length; ) {
      const index = Math.floor(pos / this.chunkSizeBytes);
      const chunkOffset = pos - index * this.chunkSizeBytes;
      const n = Math.min(this.chunkSizeBytes - chunkOffset, offset + length - pos);
      pieces.push({ index, chunkOffset, fileOffset: pos, length: n });
      pos += n;
    }
    return pieces;
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new DfsError('INVALID_ARGUMENT', `offset ${offset} and length ${length} must be non-negative integers`);
  }
}

/** Runs `task` over `items` with at most `limit` at once. */
async function runLimited<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  });
  await Promise.all(workers);
}
