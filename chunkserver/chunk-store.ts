import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AssertionError, assert } from '../common/assert.js';
import { crc32c } from '../common/crc32c.js';
import { DfsError, errors, isDfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion, ClientId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { BlockRangeLock, type Release } from './async-lock.js';
import {
  BLOCK_BYTES,
  BlockChecksums,
  blockCount,
  blockCrc,
  blockSegments,
  changedBlocks,
  decodeGroups,
  groupCount,
  needsOldBytes,
  type BlockSpan,
  type ByteChange,
  type Segment,
} from './block-checksums.js';
import { ChunkFiles, errnoCode, handleHex, readFull, writeFull } from './chunk-files.js';
import { DiskSpace } from './disk-space.js';
import { ChunkMetaDb, encodeDedup, encodeLineage, encodeRecord, metaKeys, type DedupEntry, type LandedAppend, type MetaOp } from './chunk-meta-db.js';
import { committed, EMPTY_LINEAGE, overwritten, UNKNOWN_LINEAGE, type Lineage } from './lineage.js';

/**
 * The chunk store: one file per replica under <dir>/chunks, metadata
 * (version, durable length, CRC32C per 64 KiB block, record-append dedup
 * entries) in LevelDB under <dir>/meta and in memory.
 *
 * Ordering. Every mutation is validated and booked against the replica's
 * *issued* state (length and version after every mutation called so far)
 * synchronously, when it is called, and registers a block-range lock request
 * at the same moment; it then applies under that lock. Conflicting
 * operations therefore apply in call order, while writes to disjoint blocks
 * (appends at increasing offsets) are in flight together. A mutation that
 * passed its call-time checks can still fail only by an I/O failure or a
 * checksum mismatch, which mark the replica corrupt, or because the replica
 * was deleted or its create failed; either way everything queued behind it
 * fails too, so no operation runs on a state other than the one it was
 * booked against.
 *
 * Durability. `sync` registers a shared lock over every block: it waits for
 * the mutations called before it, and mutations called after it wait only
 * for the synchronous snapshot of the CRCs, length and dedup entries. Then
 * fdatasync, then one LevelDB batch with sync. Metadata never runs ahead of
 * data: after a crash the replica is its last completed sync. Changes that
 * must be atomic (a shrinking truncate, setVersion, finishImport) take the
 * lock exclusively and commit the same way before they resolve; a shrink
 * cuts the file only after its batch, so a crash in between leaves extra
 * bytes that `open` trims.
 *
 * Torn overwrites (a decision). Rewriting bytes below the durable length,
 * then crashing before the next batch, leaves new bytes under the old CRC
 * (or a mix, since the write itself is not atomic). The store does not
 * journal overwrites to avoid this: it would double every write. The block's
 * CRC no longer matches, the next read or scrub reports CHECKSUM_MISMATCH
 * and the replica is re-replicated from a good one. That is correct
 * detection, and only overwrites of acknowledged data (not appends) can
 * cause it. The same holds for a mutation called after a sync's snapshot
 * that overwrites a block while that sync's fdatasync runs.
 *
 * Reads clip to the durable length (lowered at once by a pending shrink), so
 * they never return bytes past what a crash keeps. An overwrite below that
 * length is read as soon as it is applied (a write in flight, as in GFS); a
 * crash before its sync leaves the old bytes or a detected mismatch, never
 * a silent mix. Reads verify every block they touch against the in-memory
 * CRCs, which always describe the bytes in the file under the lock.
 *
 * Bytes past the end of the file read as zeros: padding and growing
 * truncates cost no I/O, and `open` trims every file to its durable length
 * so that the region past the length is zero.
 *
 * Imports (copies in progress) are invisible to `read`. `reimport` turns a
 * replica into one that keeps a prefix of its bytes (a delta's base), and
 * `readImport` lets a peer follow an import as it is written (cut-through).
 * Each create and reimport gives the replica a new epoch, so that a reader
 * that started on the old bytes fails instead of mixing them with new ones.
 *
 * Lineage (lineage.ts) is kept per replica, changed under the same locks as
 * the bytes (at apply time, so it follows the order the bytes change in),
 * and persisted with the batch of the next sync or commit; an importing
 * replica's lineage is the one its source sent, set when it finishes.
 */

export interface ReplicaInfo {
  handle: ChunkHandle;
  version: ChunkVersion;
  /** The durable length. */
  length: number;
}

export interface ReplicaState {
  version: ChunkVersion;
  /** The length after every mutation called so far, applied or not. */
  length: number;
  durableLength: number;
  corrupt: boolean;
  importing: boolean;
  /** Changes when the replica's bytes are replaced (create, reimport). */
  epoch: number;
}

export interface ChunkStoreOptions {
  logger: Logger;
  /** Defaults to the size of the file system holding `dir`. */
  capacityBytes?: number;
  /** Free space on the file system kept for everything but chunks; defaults to 5% of it, at most 1 GiB (disk-space.ts). */
  reservedBytes?: number;
  /** No mutation may reach past this; defaults to 64 MiB. */
  chunkSizeBytes?: number;
  /** Open chunk files kept in the LRU; defaults to 512. */
  openFilesMax?: number;
  /** Drop synced bytes from the page cache (ChunkFiles.syncData); defaults to false. */
  dropBehindWrites?: boolean;
}

const DEFAULT_CHUNK_SIZE_BYTES = 64 * 1024 * 1024;
const DEFAULT_OPEN_FILES_MAX = 512;
/** `verify` locks this many blocks at a time, so the scrubber never stalls writers for a whole chunk. */
const VERIFY_STEP_BLOCKS = 16;

type Phase = 'creating' | 'live' | 'deleted';

class Replica {
  phase: Phase = 'creating';
  corruptReason: string | undefined;
  /** Applied (and durable) version; setVersion's check uses issuedVersion. */
  version: ChunkVersion;
  issuedVersion: ChunkVersion;
  importing: boolean;
  issuedLength: number;
  durableLength: number;
  /** What reads clip to: the durable length, lowered by shrinks not yet committed. */
  visibleLength: number;
  /** The length whose CRC groups are in LevelDB. */
  persistedLength: number;
  /** Counts mutations as they are called; a durable write covers every stamp up to its own. */
  issueSeq = 0;
  durableStamp = 0;
  pendingShrinks: Array<{ stamp: number; length: number }> = [];
  checksums = new BlockChecksums();
  readonly dedup = new Map<ClientId, Map<number, DedupEntry>>();
  /** Dedup changes not yet in LevelDB, in call order, each stamped so that a sync takes only those called before it. */
  dedupPending: Array<{ stamp: number; op: MetaOp }> = [];
  readonly lock = new BlockRangeLock();
  syncing: { stamp: number; promise: Promise<number> } | undefined;
  syncQueued: Promise<number> | undefined;
  /** The fdatasync + batch of a sync whose snapshot is taken; commits and deletes wait for it. */
  durableIo: Promise<void> | undefined;
  finishing: Promise<void> | undefined;
  /** The corruption mark being written; a delete waits for it so that it cannot land after the delete's clear. */
  markWrite: Promise<void> | undefined;
  lineage: Lineage = EMPTY_LINEAGE;
  /** Changed since it was last written to LevelDB. */
  lineageDirty = false;
  epoch = 0;

  constructor(
    readonly handle: ChunkHandle,
    version: ChunkVersion,
    importing: boolean,
    length: number,
  ) {
    this.version = version;
    this.issuedVersion = version;
    this.importing = importing;
    this.issuedLength = length;
    this.durableLength = length;
    this.visibleLength = length;
    this.persistedLength = length;
  }
}

export class ChunkStore {
  private readonly replicas = new Map<ChunkHandle, Replica>();
  /** Deletes still removing files and keys: a create of the same handle waits for them. */
  private readonly deletions = new Map<ChunkHandle, Promise<void>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly background = new Set<Promise<void>>();
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | undefined;
  private used = 0;
  private lastEpoch = 0;
  /** Since the store opened, for metrics (read at scrape time). */
  readonly counters = { fsyncs: 0, checksumMismatches: 0 };

  private constructor(
    private readonly logger: Logger,
    private readonly meta: ChunkMetaDb,
    private readonly files: ChunkFiles,
    private readonly capacity: number,
    private readonly chunkSizeBytes: number,
    private readonly disk: DiskSpace,
  ) {}

  static async open(dir: string, options: ChunkStoreOptions): Promise<ChunkStore> {
    const logger = options.logger.child({ component: 'chunk-store' });
    const chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
    assert(Number.isSafeInteger(chunkSizeBytes) && chunkSizeBytes > 0, `chunkSizeBytes must be a positive integer: ${chunkSizeBytes}`);
    const files = new ChunkFiles(dir, options.openFilesMax ?? DEFAULT_OPEN_FILES_MAX, logger, options.dropBehindWrites ?? false);
    await files.prepare();
    const meta = await ChunkMetaDb.open(join(dir, 'meta'));
    let disk: DiskSpace | undefined;
    try {
      disk = await DiskSpace.open(dir, options.reservedBytes, logger);
      let capacity = options.capacityBytes;
      if (capacity === undefined) {
        const stats = await fs.statfs(dir);
        capacity = stats.blocks * stats.bsize;
      }
      const store = new ChunkStore(logger, meta, files, capacity, chunkSizeBytes, disk);
      await store.recover();
      return store;
    } catch (err) {
      disk?.close();
      await files.close();
      await meta.close();
      throw err;
    }
  }

  /** Waits for every operation in flight, then closes the files and LevelDB. Later calls fail with UNAVAILABLE. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Complete, non-corrupt replicas with their durable lengths. */
  list(): ReplicaInfo[] {
    const out: ReplicaInfo[] = [];
    for (const r of this.replicas.values()) {
      if (r.phase === 'live' && !r.importing && r.corruptReason === undefined) {
        out.push({ handle: r.handle, version: r.version, length: r.durableLength });
      }
    }
    return out;
  }

  info(handle: ChunkHandle): ReplicaState | undefined {
    const r = this.replicas.get(handle);
    if (r === undefined) return undefined;
    return {
      version: r.version,
      length: r.issuedLength,
      durableLength: r.durableLength,
      corrupt: r.corruptReason !== undefined,
      importing: r.importing,
      epoch: r.epoch,
    };
  }

  /** The replica's history (for an importing replica, not yet the one it will have). */
  lineage(handle: ChunkHandle): Lineage | undefined {
    return this.replicas.get(handle)?.lineage;
  }

  /** Sum of the replicas' lengths, counting mutations as soon as they are called. */
  usedBytes(): number {
    return this.used;
  }

  /** The configured capacity, or less when the disk's free space (beyond the reserve) is. */
  capacityBytes(): number {
    return Math.min(this.capacity, this.used + this.disk.available());
  }

  /** Whether synced bytes leave the page cache. */
  get dropsBehind(): boolean {
    return this.files.dropsBehind;
  }

  /** An empty replica, durable when this resolves. Mutations called before it resolves queue behind it. */
  create(handle: ChunkHandle, version: ChunkVersion, options: { importing?: boolean } = {}): Promise<void> {
    return this.tracked(async () => {
      handleHex(handle);
      if (this.replicas.has(handle)) throw errors.exists(`chunk ${handle}`);
      const r = new Replica(handle, version, options.importing ?? false, 0);
      r.epoch = ++this.lastEpoch;
      this.replicas.set(handle, r);
      const stamp = ++r.issueSeq;
      const release = await r.lock.acquire(0, Infinity, 'exclusive');
      try {
        const deleting = this.deletions.get(handle);
        if (deleting !== undefined) await Promise.allSettled([deleting]);
        await this.createFiles(r);
        r.phase = 'live';
        this.completeDurable(r, stamp, 0);
      } catch (err) {
        r.phase = 'deleted';
        this.forget(r);
        throw err;
      } finally {
        release();
      }
    });
  }

  /** Makes an importing replica (a copy in progress) durable and visible, with the lineage its source sent. */
  finishImport(handle: ChunkHandle, lineage: Lineage): Promise<void> {
    return this.tracked(async () => {
      const r = this.mutable(handle);
      if (r.finishing !== undefined) return r.finishing;
      if (!r.importing) return;
      const stamp = ++r.issueSeq;
      const finishing = this.commit(
        r,
        { stamp, prevLength: r.issuedLength, length: r.issuedLength, importing: false, lineage: () => lineage },
        r.lock.acquire(0, Infinity, 'exclusive'),
      );
      r.finishing = finishing;
      try {
        await finishing;
      } finally {
        r.finishing = undefined;
      }
    });
  }

  /**
   * Writes `data` at `offset`: overwrite, extend, or past the end (the gap
   * reads as zeros). Resolves when the file and CRCs hold it, not yet
   * durably. The buffer is not copied: do not change it until this resolves.
   */
  write(handle: ChunkHandle, offset: number, data: Buffer): Promise<void> {
    return this.tracked(async () => {
      assert(Buffer.isBuffer(data), 'write data must be a Buffer');
      this.checkExtent(offset, data.length, 'write');
      const r = this.mutable(handle);
      if (data.length === 0) return;
      const prevLength = r.issuedLength;
      const newLength = Math.max(prevLength, offset + data.length);
      this.issueLength(r, newLength);
      await this.change(r, { prevLength, newLength, dataOffset: offset, dataLength: data.length }, data);
    });
  }

  /** Zero-extends to `length` (record append's padding); no file I/O. */
  pad(handle: ChunkHandle, length: number): Promise<void> {
    return this.tracked(async () => {
      this.checkExtent(length, 0, 'pad');
      const r = this.mutable(handle);
      if (length < r.issuedLength) throw errors.invalid(`pad of chunk ${handle} to ${length} would cut it (length ${r.issuedLength})`);
      if (length === r.issuedLength) return;
      await this.extend(r, length);
    });
  }

  /** Cuts or zero-extends to `length`. A cut is durable when it resolves (see the header); growing is not. */
  truncate(handle: ChunkHandle, length: number): Promise<void> {
    return this.tracked(async () => {
      this.checkExtent(length, 0, 'truncate');
      const r = this.mutable(handle);
      const prevLength = r.issuedLength;
      if (length === prevLength) return;
      if (length > prevLength) {
        await this.extend(r, length);
        return;
      }
      const stamp = this.issueLength(r, length);
      this.issueShrink(r, length, stamp);
      const lineage = (l: Lineage): Lineage => (r.importing ? l : overwritten(l, length));
      await this.commit(r, { stamp, prevLength, length, lineage }, r.lock.acquire(0, Infinity, 'exclusive'));
    });
  }

  /**
   * Turns the replica into an import at `version` that keeps its first
   * `keep` bytes (a delta's base, or what an interrupted import got): durable,
   * not readable by `read`, with a new epoch, when this resolves. A crash
   * leaves an importing replica, which `open` deletes.
   */
  reimport(handle: ChunkHandle, version: ChunkVersion, keep: number): Promise<void> {
    return this.tracked(async () => {
      this.checkExtent(keep, 0, 'reimport');
      const r = this.mutable(handle);
      const prevLength = r.issuedLength;
      if (keep > prevLength) throw errors.invalid(`chunk ${handle} is ${prevLength} bytes, cannot keep ${keep}`);
      r.issuedVersion = version;
      const stamp = this.issueLength(r, keep);
      if (keep < prevLength) this.issueShrink(r, keep, stamp);
      await this.commit(
        r,
        { stamp, prevLength, length: keep, version, importing: true, newEpoch: true, lineage: () => UNKNOWN_LINEAGE },
        r.lock.acquire(0, Infinity, 'exclusive'),
      );
    });
  }

  /** Remembers where an append landed; durable with the next sync. Call it after issuing the append's write. */
  recordAppend(handle: ChunkHandle, clientId: ClientId, seq: number, offset: number, length: number): void {
    this.checkOpen();
    const r = this.mutable(handle);
    checkClientId(clientId);
    if (!isCount(seq)) throw errors.invalid(`append sequence ${seq} is not a non-negative integer`);
    assert(isCount(offset) && isCount(length) && offset + length <= r.issuedLength, `append [${offset}, +${length}) is past chunk ${handle}'s length`);
    const stamp = ++r.issueSeq;
    let entries = r.dedup.get(clientId);
    if (entries === undefined) {
      entries = new Map();
      r.dedup.set(clientId, entries);
    }
    entries.delete(seq);
    entries.set(seq, { offset, length });
    r.dedupPending.push({ stamp, op: { type: 'put', key: metaKeys.dedup(handle, clientId, seq), value: encodeDedup({ offset, length }) } });
    if (entries.size > LIMITS.appendDedupWindow) {
      const oldest = entries.keys().next().value;
      assert(oldest !== undefined, 'a full dedup window has no oldest entry');
      entries.delete(oldest);
      r.dedupPending.push({ stamp, op: { type: 'del', key: metaKeys.dedup(handle, clientId, oldest) } });
    }
  }

  /** The appends remembered for the replica that lie within its first `length` bytes, each client's oldest first: what a copy of those bytes carries. */
  appendsWithin(handle: ChunkHandle, length: number): LandedAppend[] {
    const r = this.mutable(handle);
    const out: LandedAppend[] = [];
    for (const [clientId, entries] of r.dedup) {
      for (const [seq, entry] of entries) {
        if (entry.offset + entry.length <= length) out.push({ clientId, seq, offset: entry.offset, length: entry.length });
      }
    }
    return out;
  }

  findAppend(handle: ChunkHandle, clientId: ClientId, seq: number): { offset: number; length: number } | undefined {
    const entry = this.mutable(handle).dedup.get(clientId)?.get(seq);
    return entry === undefined ? undefined : { offset: entry.offset, length: entry.length };
  }

  /**
   * Makes every mutation called before this durable; resolves to the durable
   * length. Calls during a sync join it, or the one queued after it.
   */
  sync(handle: ChunkHandle): Promise<number> {
    return this.tracked(async () => this.syncReplica(this.mutable(handle)));
  }

  /**
   * Up to `length` bytes at `offset`, clipped to the durable length, every
   * block verified. With `epoch`, fails with UNAVAILABLE once the replica's
   * bytes have been replaced since the caller saw that epoch.
   */
  read(handle: ChunkHandle, offset: number, length: number, epoch?: number): Promise<Buffer> {
    return this.tracked(async () => {
      const r = this.visible(handle);
      return this.readRange(r, offset, length, r.visibleLength, epoch);
    });
  }

  /**
   * Like `read`, on a replica that may still be importing: up to `limit`,
   * which the importer says is written (and checksummed, not necessarily
   * synced). UNAVAILABLE once the replica's epoch is no longer `epoch`.
   */
  readImport(handle: ChunkHandle, epoch: number, offset: number, length: number, limit: number): Promise<Buffer> {
    return this.tracked(async () => {
      const r = this.replicas.get(handle);
      if (r === undefined || r.epoch !== epoch) throw errors.unavailable(`chunk ${handle} is no longer the import being read`);
      this.checkUsable(r);
      return this.readRange(r, offset, length, Math.min(limit, r.importing ? r.issuedLength : r.visibleLength), epoch);
    });
  }

  private async readRange(r: Replica, offset: number, length: number, limit: number, epoch: number | undefined): Promise<Buffer> {
    if (!isCount(offset) || !isCount(length)) throw errors.invalid(`read [${offset}, +${length}) is not a range of non-negative integers`);
    const replaced = (): boolean => epoch !== undefined && r.epoch !== epoch;
    if (replaced()) throw errors.unavailable(`chunk ${r.handle} was replaced during the read`);
    const end = Math.min(offset + length, limit);
    if (end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / BLOCK_BYTES);
    const last = blockCount(end);
    const lengthAtCall = r.issuedLength;
    const release = await r.lock.acquire(first, last, 'shared');
    try {
      this.checkUsable(r);
      // Checked again under the lock: a reimport may have been granted it first.
      if (replaced()) throw errors.unavailable(`chunk ${r.handle} was replaced during the read`);
      const bytes = await this.readBlocks(r, first, last, lengthAtCall);
      return bytes.subarray(offset - first * BLOCK_BYTES, end - first * BLOCK_BYTES);
    } finally {
      release();
    }
  }

  /**
   * Durably sets the version and cuts the replica to `truncateTo` before
   * resolving. STALE_VERSION (and no change) unless the version, after every
   * setVersion called before, is `expectedVersion`.
   */
  setVersion(handle: ChunkHandle, expectedVersion: ChunkVersion, newVersion: ChunkVersion, truncateTo: number): Promise<void> {
    return this.tracked(async () => {
      this.checkExtent(truncateTo, 0, 'setVersion');
      const r = this.mutable(handle);
      if (r.issuedVersion !== expectedVersion) {
        throw new DfsError('STALE_VERSION', `chunk ${handle} is at version ${r.issuedVersion}, not ${expectedVersion}`);
      }
      if (newVersion < expectedVersion) throw errors.invalid(`chunk ${handle}: version ${newVersion} is older than ${expectedVersion}`);
      const prevLength = r.issuedLength;
      if (truncateTo > prevLength) throw errors.invalid(`chunk ${handle} is ${prevLength} bytes, cannot keep ${truncateTo}`);
      r.issuedVersion = newVersion;
      const stamp = this.issueLength(r, truncateTo);
      if (truncateTo < prevLength) this.issueShrink(r, truncateTo, stamp);
      const lineage = (l: Lineage): Lineage =>
        newVersion === expectedVersion ? (truncateTo < prevLength ? overwritten(l, truncateTo) : l) : committed(l, newVersion, truncateTo);
      await this.commit(r, { stamp, prevLength, length: truncateTo, version: newVersion, lineage }, r.lock.acquire(0, Infinity, 'exclusive'));
    });
  }

  /** Removes the replica (metadata first: a crash leaves only an orphan file, which `open` deletes). */
  delete(handle: ChunkHandle): Promise<void> {
    return this.tracked(async () => {
      const r = this.replicas.get(handle);
      if (r === undefined) throw errors.notFound(`chunk ${handle}`);
      this.forget(r);
      const deletion = this.removeReplica(r, r.lock.acquire(0, Infinity, 'exclusive'));
      this.deletions.set(handle, deletion);
      try {
        await deletion;
      } finally {
        if (this.deletions.get(handle) === deletion) this.deletions.delete(handle);
      }
    });
  }

  /** Checks every block (the scrubber); false, and the replica marked corrupt, on a mismatch. */
  verify(handle: ChunkHandle): Promise<boolean> {
    return this.tracked(async () => {
      const r = this.replicas.get(handle);
      if (r === undefined) throw errors.notFound(`chunk ${handle}`);
      for (let block = 0; ; block += VERIFY_STEP_BLOCKS) {
        if (r.corruptReason !== undefined) return false;
        const lengthAtCall = r.issuedLength;
        const end = Math.min(block + VERIFY_STEP_BLOCKS, blockCount(lengthAtCall));
        if (block >= end) return true;
        const release = await r.lock.acquire(block, end, 'shared');
        try {
          if (r.phase === 'deleted') throw errors.notFound(`chunk ${handle}`);
          if (r.corruptReason !== undefined) return false;
          await this.readBlocks(r, block, end, lengthAtCall);
        } catch (err) {
          if (isDfsError(err, 'CHECKSUM_MISMATCH')) return false;
          throw err;
        } finally {
          release();
        }
      }
    });
  }

  // ---- applying mutations ----

  /** Books a length change at call time; returns the mutation's stamp. */
  private issueLength(r: Replica, newLength: number): number {
    const growth = newLength - r.issuedLength;
    if (growth > 0 && this.used + growth > this.capacity) {
      throw new DfsError('NO_SPACE', `chunk ${r.handle}: ${growth} more bytes exceed the capacity of ${this.capacity}`);
    }
    if (growth > 0 && growth > this.disk.available()) {
      throw new DfsError('NO_SPACE', `chunk ${r.handle}: ${growth} more bytes exceed the disk's free space beyond its reserve of ${this.disk.reserveBytes} bytes`);
    }
    this.disk.book(growth);
    this.used += growth;
    r.issuedLength = newLength;
    return ++r.issueSeq;
  }

  private issueShrink(r: Replica, length: number, stamp: number): void {
    r.pendingShrinks.push({ stamp, length });
    r.visibleLength = Math.min(r.visibleLength, length);
    for (const [client, entries] of r.dedup) {
      for (const [seq, entry] of entries) {
        if (entry.offset + entry.length > length) {
          entries.delete(seq);
          r.dedupPending.push({ stamp, op: { type: 'del', key: metaKeys.dedup(r.handle, client, seq) } });
        }
      }
      if (entries.size === 0) r.dedup.delete(client);
    }
  }

  private async extend(r: Replica, length: number): Promise<void> {
    const prevLength = r.issuedLength;
    this.issueLength(r, length);
    await this.change(r, { prevLength, newLength: length, dataOffset: prevLength, dataLength: 0 }, undefined);
  }

  /** Locks the blocks a write or zero-extension changes (at call time), then applies it. */
  private async change(r: Replica, change: ByteChange, data: Buffer | undefined): Promise<void> {
    const span = changedBlocks(change);
    assert(span.end > span.first, 'a change that changes nothing');
    const release = await r.lock.acquire(span.first, span.end, 'exclusive');
    try {
      this.checkUsable(r);
      // Writing over bytes a copy may already hold; appends (at or past the length) change none.
      if (!r.importing && change.dataLength > 0 && change.dataOffset < change.prevLength) {
        this.setLineage(r, overwritten(r.lineage, change.dataOffset));
      }
      await this.applyChange(r, change, span, data);
    } finally {
      release();
    }
  }

  private async applyChange(r: Replica, change: ByteChange, span: BlockSpan, data: Buffer | undefined): Promise<void> {
    const plans: Array<{ block: number; segments: Segment[]; needsOld: boolean }> = [];
    let readBack = false;
    for (let block = span.first; block < span.end; block++) {
      const segments = blockSegments(block, change);
      const needsOld = needsOldBytes(block, segments, change.prevLength);
      readBack ||= needsOld;
      plans.push({ block, segments, needsOld });
    }
    const computeCrcs = (old: ReadonlyMap<number, Buffer>): number[] =>
      plans.map((p) => blockCrc(p.block, p.segments, r.checksums.get(p.block), old.get(p.block), data, change.dataOffset));
    let crcs: number[];
    if (data === undefined && !readBack) {
      crcs = computeCrcs(new Map());
    } else {
      try {
        crcs = await this.files.use(r.handle, async (file) => {
          const old = new Map<number, Buffer>();
          for (const p of plans) {
            // Verified before reuse: a new CRC over bad bytes would launder the corruption.
            if (p.needsOld) old.set(p.block, await this.readVerified(r, file, p.block, p.block + 1, change.prevLength));
          }
          const computed = computeCrcs(old);
          if (data !== undefined) await writeFull(file, data, change.dataOffset);
          return computed;
        });
      } catch (err) {
        throw this.failReplica(r, 'writing', err);
      }
    }
    for (let i = 0; i < plans.length; i++) r.checksums.set(plans[i]!.block, crcs[i]!);
  }

  /**
   * An atomic, durable change under the exclusive lock: fdatasync, then the
   * batch (version, length, flags, changed CRCs, dedup changes), then the cut.
   */
  private async commit(
    r: Replica,
    c: {
      stamp: number;
      prevLength: number;
      length: number;
      version?: ChunkVersion;
      importing?: boolean;
      /** The replica's bytes are replaced: readers of the old ones must fail. */
      newEpoch?: boolean;
      /** The lineage after this change, from the one before (applied under the lock). */
      lineage?: (current: Lineage) => Lineage;
    },
    granted: Promise<Release>,
  ): Promise<void> {
    const release = await granted;
    try {
      await this.durableIoSettled(r);
      this.checkUsable(r);
      if (c.newEpoch) r.epoch = ++this.lastEpoch;
      if (c.lineage !== undefined) this.setLineage(r, c.lineage(r.lineage));
      const version = c.version ?? r.version;
      const importing = c.importing ?? r.importing;
      const cut = c.length < c.prevLength;
      try {
        await this.files.use(r.handle, async (file) => {
          const blocks = blockCount(c.length);
          let tailCrc: number | undefined;
          if (cut && c.length % BLOCK_BYTES !== 0) {
            const tail = blocks - 1;
            const old = await this.readVerified(r, file, tail, blocks, c.prevLength);
            tailCrc = crc32c(old.subarray(0, c.length - tail * BLOCK_BYTES));
          }
          await this.files.syncData(file, c.length);
          this.counters.fsyncs++;
          r.checksums.truncate(blocks);
          if (tailCrc !== undefined) r.checksums.set(blocks - 1, tailCrc);
          await this.meta.write(this.snapshotOps(r, c.stamp, c.length, version, importing), true);
          if (cut) await file.truncate(c.length);
        });
      } catch (err) {
        throw this.failReplica(r, 'committing', err);
      }
      r.version = version;
      r.importing = importing;
      this.completeDurable(r, c.stamp, c.length);
    } finally {
      release();
    }
  }

  private async removeReplica(r: Replica, granted: Promise<Release>): Promise<void> {
    const release = await granted;
    try {
      await this.durableIoSettled(r);
      r.phase = 'deleted';
      await r.markWrite;
      await this.meta.write([{ type: 'del', key: metaKeys.record(r.handle) }], true);
      await this.files.remove(r.handle);
      await this.meta.clearReplica(r.handle);
    } catch (err) {
      throw ioError(r.handle, 'deleting', err);
    } finally {
      release();
    }
  }

  private async createFiles(r: Replica): Promise<void> {
    try {
      await this.files.create(r.handle);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') throw new DfsError('ALREADY_EXISTS', `chunk file of ${r.handle} already exists`, { cause: err });
      throw ioError(r.handle, 'creating', err);
    }
    try {
      await this.meta.write(
        [
          { type: 'put', key: metaKeys.record(r.handle), value: encodeRecord({ version: r.version, length: 0, importing: r.importing }) },
          { type: 'put', key: metaKeys.lineage(r.handle), value: encodeLineage(r.lineage) },
        ],
        true,
      );
    } catch (err) {
      try {
        await this.files.remove(r.handle);
      } catch (removeErr) {
        this.logger.warn({ err: removeErr, handle: r.handle }, 'removing a half-created chunk file failed; the next open deletes it');
      }
      throw ioError(r.handle, 'creating', err);
    }
  }

  // ---- sync ----

  private syncReplica(r: Replica): Promise<number> {
    if (r.syncQueued !== undefined) return r.syncQueued;
    const current = r.syncing;
    if (current === undefined) return this.syncNow(r);
    if (current.stamp === r.issueSeq) return current.promise;
    const queued = Promise.allSettled([current.promise]).then(() => {
      r.syncQueued = undefined;
      return this.syncNow(r);
    });
    r.syncQueued = queued;
    return queued;
  }

  private syncNow(r: Replica): Promise<number> {
    try {
      this.checkUsable(r);
    } catch (err) {
      return Promise.reject(err);
    }
    if (r.durableStamp === r.issueSeq) return Promise.resolve(r.durableLength);
    const stamp = r.issueSeq;
    const length = r.issuedLength;
    const promise = this.runSync(r, stamp, length, r.lock.acquire(0, Infinity, 'shared'));
    const entry = { stamp, promise };
    r.syncing = entry;
    const clear = (): void => {
      if (r.syncing === entry) r.syncing = undefined;
    };
    promise.then(clear, clear);
    return promise;
  }

  private async runSync(r: Replica, stamp: number, length: number, granted: Promise<Release>): Promise<number> {
    const release = await granted;
    let ops: MetaOp[];
    try {
      this.checkUsable(r);
      // A commit called before this sync already made everything durable.
      if (r.durableStamp >= stamp) return r.durableLength;
      ops = this.snapshotOps(r, stamp, length, r.version, r.importing);
    } finally {
      release();
    }
    const io = this.persist(r, ops, stamp, length);
    r.durableIo = io;
    try {
      await io;
    } finally {
      if (r.durableIo === io) r.durableIo = undefined;
    }
    return length;
  }

  private async persist(r: Replica, ops: MetaOp[], stamp: number, length: number): Promise<void> {
    try {
      await this.files.use(r.handle, (file) => this.files.syncData(file, length));
      this.counters.fsyncs++;
      await this.meta.write(ops, true);
    } catch (err) {
      throw this.failReplica(r, 'syncing', err);
    }
    this.completeDurable(r, stamp, length);
  }

  /** The batch that records the replica as of `stamp` (taken under the lock, so the CRCs are exactly that state). */
  private snapshotOps(r: Replica, stamp: number, length: number, version: ChunkVersion, importing: boolean): MetaOp[] {
    const ops: MetaOp[] = [{ type: 'put', key: metaKeys.record(r.handle), value: encodeRecord({ version, length, importing }) }];
    const blocks = blockCount(length);
    for (const [group, value] of r.checksums.takeDirty(blocks)) ops.push({ type: 'put', key: metaKeys.crcGroup(r.handle, group), value });
    for (let group = groupCount(blocks); group < groupCount(blockCount(r.persistedLength)); group++) {
      ops.push({ type: 'del', key: metaKeys.crcGroup(r.handle, group) });
    }
    r.persistedLength = length;
    if (r.lineageDirty) {
      ops.push({ type: 'put', key: metaKeys.lineage(r.handle), value: encodeLineage(r.lineage) });
      r.lineageDirty = false;
    }
    let taken = 0;
    while (taken < r.dedupPending.length && r.dedupPending[taken]!.stamp <= stamp) ops.push(r.dedupPending[taken++]!.op);
    r.dedupPending.splice(0, taken);
    return ops;
  }

  private setLineage(r: Replica, lineage: Lineage): void {
    if (lineage === r.lineage) return;
    r.lineage = lineage;
    r.lineageDirty = true;
  }

  private completeDurable(r: Replica, stamp: number, length: number): void {
    assert(stamp >= r.durableStamp, `durable writes of chunk ${r.handle} completed out of order`);
    r.durableStamp = stamp;
    r.durableLength = length;
    r.pendingShrinks = r.pendingShrinks.filter((s) => s.stamp > stamp);
    r.visibleLength = Math.min(length, ...r.pendingShrinks.map((s) => s.length));
  }

  private async durableIoSettled(r: Replica): Promise<void> {
    // Its outcome belongs to the sync that started it; a failure marked the replica corrupt, which checkUsable reports.
    if (r.durableIo !== undefined) await Promise.allSettled([r.durableIo]);
  }

  // ---- reading ----

  private readBlocks(r: Replica, first: number, end: number, lengthAtCall: number): Promise<Buffer> {
    return this.files.use(r.handle, (file) => this.readVerified(r, file, first, end, lengthAtCall)).catch((err: unknown) => {
      throw ioError(r.handle, 'reading', err);
    });
  }

  /**
   * Blocks [first, end) as they are now, every one checked against its CRC.
   * `lengthAtCall` is the issued length when the caller registered its lock:
   * each of these blocks' CRCs covers exactly its bytes below it.
   */
  private async readVerified(r: Replica, file: FileHandle, first: number, end: number, lengthAtCall: number): Promise<Buffer> {
    const from = first * BLOCK_BYTES;
    const bytes = await readFull(file, from, Math.min(end * BLOCK_BYTES, lengthAtCall) - from);
    for (let block = first; block < end; block++) {
      const part = bytes.subarray((block - first) * BLOCK_BYTES, (block - first + 1) * BLOCK_BYTES);
      if (crc32c(part) !== r.checksums.get(block)) {
        this.counters.checksumMismatches++;
        const reason = `checksum mismatch in block ${block}`;
        this.markCorrupt(r, reason);
        throw new DfsError('CHECKSUM_MISMATCH', `chunk ${r.handle}: ${reason}`);
      }
    }
    return bytes;
  }

  // ---- state checks and bookkeeping ----

  private mutable(handle: ChunkHandle): Replica {
    const r = this.replicas.get(handle);
    if (r === undefined) throw errors.notFound(`chunk ${handle}`);
    this.checkUsable(r);
    return r;
  }

  private visible(handle: ChunkHandle): Replica {
    const r = this.replicas.get(handle);
    if (r === undefined || r.importing) throw errors.notFound(`chunk ${handle}`);
    this.checkUsable(r);
    return r;
  }

  private checkUsable(r: Replica): void {
    if (r.phase === 'deleted') throw errors.notFound(`chunk ${r.handle}`);
    if (r.corruptReason !== undefined) throw new DfsError('CHECKSUM_MISMATCH', `chunk ${r.handle} is corrupt: ${r.corruptReason}`);
  }

  private checkExtent(offset: number, length: number, what: string): void {
    if (!isCount(offset)) throw errors.invalid(`${what}: offset ${offset} is not a non-negative integer`);
    if (offset + length > this.chunkSizeBytes) {
      throw errors.invalid(`${what}: [${offset}, ${offset + length}) reaches past the chunk size ${this.chunkSizeBytes}`);
    }
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw errors.unavailable('chunk store is closed');
  }

  /** Removes the replica from the map and its bytes from the usage count (mutations called later see NOT_FOUND). */
  private forget(r: Replica): void {
    if (this.replicas.get(r.handle) !== r) return;
    this.replicas.delete(r.handle);
    this.used -= r.issuedLength;
  }

  /**
   * After a failed write, sync or commit the file and CRCs no longer agree
   * (or fsync lost pages), so the replica is marked corrupt: the master
   * drops it and copies a good one.
   */
  private failReplica(r: Replica, what: string, err: unknown): Error {
    if (err instanceof DfsError || err instanceof AssertionError) return err;
    // Someone else filled the disk between two samples: refuse growth from now on.
    if (errnoCode(err) === 'ENOSPC') void this.disk.sample();
    this.markCorrupt(r, `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    return ioError(r.handle, what, err);
  }

  private markCorrupt(r: Replica, reason: string): void {
    if (r.corruptReason !== undefined) return;
    r.corruptReason = reason;
    this.logger.warn({ handle: r.handle, reason }, 'replica marked corrupt');
    if (r.phase !== 'live') return;
    // The mark only spares a restart from serving the replica until the next read finds the damage again, so it is not synced.
    const persisting = this.meta
      .write([{ type: 'put', key: metaKeys.corruptMark(r.handle), value: Buffer.from(reason, 'utf8') }], false)
      .catch((err: unknown) => this.logger.error({ err, handle: r.handle }, 'persisting a corruption mark failed'))
      .finally(() => this.background.delete(persisting));
    this.background.add(persisting);
    r.markWrite = persisting;
  }

  private tracked<T>(fn: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') return Promise.reject(errors.unavailable('chunk store is closed'));
    const promise = fn();
    this.inFlight.add(promise);
    const done = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(done, done);
    return promise;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closing';
    this.disk.close();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.files.close();
    await this.meta.close();
    this.state = 'closed';
  }

  // ---- recovery ----

  /**
   * Loads every replica and repairs what a crash can leave: replicas left
   * importing and files without metadata are deleted, keys without a record
   * are cleared, files longer than their durable length are trimmed, and
   * metadata without a file marks the replica corrupt (reported as lost).
   */
  private async recover(): Promise<void> {
    const { replicas: stored, strayKeys } = await this.meta.load();
    const onDisk = await this.files.scan();
    const cleanup: MetaOp[] = strayKeys.map((key) => ({ type: 'del', key }));
    const toClear: ChunkHandle[] = [];
    const toRemove: ChunkHandle[] = [];
    const toTrim: Array<[ChunkHandle, number]> = [];
    let lost = 0;
    for (const s of stored.values()) {
      const size = onDisk.get(s.handle);
      onDisk.delete(s.handle);
      if (s.record === undefined || s.record.importing) {
        if (s.record === undefined) this.logger.warn({ handle: s.handle }, 'chunk metadata without a record, removed');
        toClear.push(s.handle);
        if (size !== undefined) toRemove.push(s.handle);
        continue;
      }
      const { length } = s.record;
      const r = new Replica(s.handle, s.record.version, false, length);
      r.phase = 'live';
      r.epoch = ++this.lastEpoch;
      r.lineage = s.lineage ?? UNKNOWN_LINEAGE;
      for (const key of s.badKeys) cleanup.push({ type: 'del', key });
      const blocks = blockCount(length);
      for (const group of s.crcGroups.keys()) {
        if (group >= groupCount(blocks)) cleanup.push({ type: 'del', key: metaKeys.crcGroup(s.handle, group) });
      }
      const crcs = decodeGroups(s.crcGroups, blocks);
      if (typeof crcs === 'string') r.corruptReason = crcs;
      else r.checksums = new BlockChecksums(crcs);
      for (const [client, entries] of s.dedup) {
        const kept = new Map<number, DedupEntry>();
        for (const [seq, entry] of entries) {
          if (entry.offset + entry.length <= length) kept.set(seq, entry);
          else cleanup.push({ type: 'del', key: metaKeys.dedup(s.handle, client, seq) });
        }
        for (const seq of [...kept.keys()].slice(0, Math.max(0, kept.size - LIMITS.appendDedupWindow))) {
          kept.delete(seq);
          cleanup.push({ type: 'del', key: metaKeys.dedup(s.handle, client, seq) });
        }
        if (kept.size > 0) r.dedup.set(client, kept);
      }
      r.corruptReason ??= s.corruptReason;
      if (size === undefined) {
        r.corruptReason ??= 'chunk file is missing';
        lost++;
      } else if (size > length) {
        toTrim.push([s.handle, length]);
      }
      if (r.corruptReason !== undefined) this.logger.warn({ handle: s.handle, reason: r.corruptReason }, 'replica is corrupt');
      this.replicas.set(s.handle, r);
      this.used += length;
    }
    for (const handle of onDisk.keys()) toRemove.push(handle);
    for (const handle of toClear) cleanup.push({ type: 'del', key: metaKeys.record(handle) });
    // Records go before files: a crash in between leaves files without metadata, which the next open deletes.
    await this.meta.write(cleanup, true);
    for (const handle of toClear) await this.meta.clearReplica(handle);
    for (const handle of toRemove) await this.files.remove(handle);
    for (const [handle, length] of toTrim) await this.files.use(handle, (file) => file.truncate(length));
    this.logger.info(
      { replicas: this.replicas.size, removed: toRemove.length, cleared: toClear.length, trimmed: toTrim.length, lost },
      'chunk store opened',
    );
  }
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function checkClientId(clientId: ClientId): void {
  if (typeof clientId !== 'string' || clientId.length === 0 || Buffer.byteLength(clientId, 'utf8') > LIMITS.clientIdMaxBytes) {
    throw errors.invalid(`client id must be 1 to ${LIMITS.clientIdMaxBytes} bytes`);
  }
}

function ioError(handle: ChunkHandle, what: string, err: unknown): Error {
  if (err instanceof DfsError || err instanceof AssertionError) return err;
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DfsError('NO_SPACE', `chunk ${handle}: ${what}: no space left`, { cause: err });
  return new DfsError('INTERNAL', `chunk ${handle}: ${what} failed`, { cause: err });
}
