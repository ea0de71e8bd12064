import { assert } from '../common/assert.js';
import type { ChunkHandle, ChunkVersion, InodeId } from '../common/ids.js';
import { AscendingRows, type Column, column, fitting, resized } from './ascending-rows.js';
import { broken } from './invariant.js';

const CAPACITY_INITIAL = 1024;

export interface ChunkInfo {
  readonly version: ChunkVersion;
  /** The last version every lease participant reached (ConfirmVersion); 0: never. At most `version`. */
  readonly confirmedVersion: ChunkVersion;
  /** How many file chunk lists hold the handle. */
  readonly refCount: number;
  /** The file that owns the chunk: its replication goal applies. */
  readonly inode: InodeId;
  /** The chunk's position in its owner. */
  readonly index: number;
}

export interface NewChunk extends ChunkInfo {
  readonly handle: ChunkHandle;
}

/**
 * Every chunk the master knows, by handle, one row of columns per chunk (see
 * ascending-rows.ts). A chunk lives while some file's chunk list holds its
 * handle; the record goes with the last reference, after which chunkservers
 * learn from heartbeat replies that the handle is garbage.
 *
 * Today a chunk has one reference, its owner's. An operation that shares
 * chunks (file snapshots) must move `inode` and `index` to another holder
 * when the owner lets go while references remain.
 */
export class ChunkTable {
  private readonly rows: AscendingRows;
  // Versions, owners and reference counts start narrow and widen when a value outgrows them (fitting()).
  private versions: Column = column(Uint32Array, CAPACITY_INITIAL);
  private confirmedVersions: Column = column(Uint32Array, CAPACITY_INITIAL);
  private owners: Column = column(Uint32Array, CAPACITY_INITIAL);
  private indexes = column(Uint32Array, CAPACITY_INITIAL);
  private refCounts: Column = column(Uint8Array, CAPACITY_INITIAL);

  constructor() {
    this.rows = new AscendingRows(
      CAPACITY_INITIAL,
      (capacity) => {
        this.versions = resized(this.versions, capacity);
        this.confirmedVersions = resized(this.confirmedVersions, capacity);
        this.owners = resized(this.owners, capacity);
        this.indexes = resized(this.indexes, capacity);
        this.refCounts = resized(this.refCounts, capacity);
      },
      (from, to) => {
        this.versions[to] = this.versions[from]!;
        this.confirmedVersions[to] = this.confirmedVersions[from]!;
        this.owners[to] = this.owners[from]!;
        this.indexes[to] = this.indexes[from]!;
        this.refCounts[to] = this.refCounts[from]!;
      },
    );
  }

  get count(): number {
    return this.rows.live;
  }

  has(handle: number): boolean {
    return this.rows.find(handle) !== -1;
  }

  get(handle: number): ChunkInfo | undefined {
    const row = this.rows.find(handle);
    if (row === -1) return undefined;
    return {
      version: this.versions[row]! as ChunkVersion,
      confirmedVersion: this.confirmedVersions[row]! as ChunkVersion,
      refCount: this.refCounts[row]!,
      inode: this.owners[row]! as InodeId,
      index: this.indexes[row]!,
    };
  }

  version(handle: number): ChunkVersion {
    return this.versions[this.liveRow(handle)]! as ChunkVersion;
  }

  /** Appends a chunk; its handle must exceed every handle added before. */
  add(chunk: NewChunk): void {
    if (!(chunk.refCount >= 1)) broken(`chunk ${chunk.handle} needs a reference`);
    if (!(chunk.confirmedVersion <= chunk.version)) broken(`chunk ${chunk.handle} confirmed past its version`);
    if (!(chunk.index < 2 ** 32)) broken(`chunk ${chunk.handle} has index ${chunk.index}`);
    const row = this.rows.append(chunk.handle);
    this.versions = fitting(this.versions, chunk.version);
    this.versions[row] = chunk.version;
    this.confirmedVersions = fitting(this.confirmedVersions, chunk.confirmedVersion);
    this.confirmedVersions[row] = chunk.confirmedVersion;
    this.owners = fitting(this.owners, chunk.inode);
    this.owners[row] = chunk.inode;
    this.indexes[row] = chunk.index;
    this.refCounts = fitting(this.refCounts, chunk.refCount);
    this.refCounts[row] = chunk.refCount;
  }

  setVersion(handle: ChunkHandle, version: ChunkVersion): void {
    const row = this.liveRow(handle);
    this.versions = fitting(this.versions, version);
    this.versions[row] = version;
  }

  setConfirmedVersion(handle: ChunkHandle, version: ChunkVersion): void {
    const row = this.liveRow(handle);
    if (!(version <= this.versions[row]!)) broken(`confirming chunk ${handle} past its version`);
    this.confirmedVersions = fitting(this.confirmedVersions, version);
    this.confirmedVersions[row] = version;
  }

  /** Drops one reference; returns true when that was the last and the record is gone. */
  release(handle: number): boolean {
    const row = this.liveRow(handle);
    const refs = this.refCounts[row]! - 1;
    this.refCounts[row] = refs;
    if (refs > 0) return false;
    this.rows.remove(row);
    return true;
  }

  /** Squeezes out released rows (between entries only: rows move). */
  compact(): void {
    this.rows.compact();
  }

  /** Ascending by handle. */
  forEach(fn: (handle: ChunkHandle, version: ChunkVersion) => void): void {
    const end = this.rows.end;
    for (let row = 0; row < end; row++) {
      if (this.rows.isLive(row)) fn(this.rows.id(row) as ChunkHandle, this.versions[row]! as ChunkVersion);
    }
  }

  /** Ascending by handle. */
  forEachInfo(fn: (handle: ChunkHandle, info: ChunkInfo) => void): void {
    this.forEach((handle) => fn(handle, this.get(handle)!));
  }

  checkStorage(): void {
    let live = 0;
    let previous = 0;
    const end = this.rows.end;
    for (let row = 0; row < end; row++) {
      if (!this.rows.isLive(row)) continue;
      live++;
      const handle = this.rows.id(row);
      if (!(handle > previous && this.rows.find(handle) === row)) broken(`chunk ${handle} is not found at row ${row}`);
      if (!(this.refCounts[row]! >= 1)) broken(`chunk ${handle} has no reference`);
      if (!(this.confirmedVersions[row]! <= this.versions[row]!)) broken(`chunk ${handle} is confirmed past its version`);
      previous = handle;
    }
    assert(live === this.rows.live, 'chunk rows disagree on the count');
  }

  // Row access for Namespace.checkInvariants, which counts references per row.

  /** The row of a chunk, or -1. */
  rowOf(handle: number): number {
    return this.rows.find(handle);
  }

  get rowEnd(): number {
    return this.rows.end;
  }

  /** The handle at a row, or 0 for a removed one. */
  handleAt(row: number): number {
    return this.rows.isLive(row) ? this.rows.id(row) : 0;
  }

  refCountAt(row: number): number {
    return this.refCounts[row]!;
  }

  ownerAt(row: number): InodeId {
    return this.owners[row]! as InodeId;
  }

  indexAt(row: number): number {
    return this.indexes[row]!;
  }

  private liveRow(handle: number): number {
    const row = this.rows.find(handle);
    if (row === -1) broken(`unknown chunk ${handle}`);
    return row;
  }
}
