import { assert } from '../common/assert.js';
import type { InodeId } from '../common/ids.js';
import { AscendingRows, column, resized } from './ascending-rows.js';
import { type AttrView, INODE_KINDS, type InodeKind, isDevice } from './attr.js';
import { ChunkLists } from './chunk-lists.js';
import { broken } from './invariant.js';

/** The low bits of a row's flags: its kind, as an index into INODE_KINDS. */
const KIND_MASK = 7;
const KIND_FILE = INODE_KINDS.indexOf('file');
const KIND_DIRECTORY = INODE_KINDS.indexOf('directory');
const FLAG_REPLICATE_ALL = 8;
const CAPACITY_INITIAL = 1024;

/**
 * A directory's entries by name, and the directory that holds it (0 for the
 * root and for a directory at the top of a trash entry). Directories cannot
 * be hard-linked, so the parent is unique: it lets a rename refuse to move a
 * directory under itself, and tell a deleted directory from a live one,
 * without searching the tree.
 */
export class Children extends Map<string, InodeId> {
  constructor(public parent: number) {
    super();
  }
}

export interface NewInode {
  readonly id: InodeId;
  readonly kind: InodeKind;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly timeUs: number;
  readonly replication: number;
  readonly replicateAll: boolean;
  /** Directories: the directory that holds it (0: none). */
  readonly parent?: number;
  /** Symlinks: the target (its UTF-8 bytes are the size). */
  readonly target?: string;
  /** Char and block devices: the device number. */
  readonly rdev?: number;
}

/**
 * Storage of every inode, live or in the trash, by id: one row of columns per
 * inode (see ascending-rows.ts). It knows nothing of paths; namespace.ts gives
 * the rows their meaning and keeps nlink and the children maps consistent.
 *
 * What only some kinds have (a directory's Children, a symlink's target, a
 * device's number) is in the payloads map. Files' chunk lists (handles by
 * index, 0 a hole, never ending with a hole) are in chunk-lists.ts.
 */
export class InodeTable {
  private readonly rows: AscendingRows;
  private sizes = column(Float64Array, CAPACITY_INITIAL);
  private atimes = column(Float64Array, CAPACITY_INITIAL);
  private mtimes = column(Float64Array, CAPACITY_INITIAL);
  private ctimes = column(Float64Array, CAPACITY_INITIAL);
  private uids = column(Uint32Array, CAPACITY_INITIAL);
  private gids = column(Uint32Array, CAPACITY_INITIAL);
  private nlinks = column(Uint32Array, CAPACITY_INITIAL);
  private modes = column(Uint16Array, CAPACITY_INITIAL);
  private flags = column(Uint8Array, CAPACITY_INITIAL);
  private replications = column(Uint8Array, CAPACITY_INITIAL);
  /**
   * By inode id, not row (rows move): a directory's children, a symlink's
   * target, a device's number. Files, fifos and sockets have none, so the
   * millions of files cost this nothing.
   */
  private readonly payloads = new Map<number, Children | string | number>();
  private readonly lists = new ChunkLists(CAPACITY_INITIAL);
  private fileCount = 0;
  private directoryCount = 0;

  constructor() {
    this.rows = new AscendingRows(
      CAPACITY_INITIAL,
      (capacity) => {
        this.sizes = resized(this.sizes, capacity);
        this.atimes = resized(this.atimes, capacity);
        this.mtimes = resized(this.mtimes, capacity);
        this.ctimes = resized(this.ctimes, capacity);
        this.uids = resized(this.uids, capacity);
        this.gids = resized(this.gids, capacity);
        this.nlinks = resized(this.nlinks, capacity);
        this.modes = resized(this.modes, capacity);
        this.flags = resized(this.flags, capacity);
        this.replications = resized(this.replications, capacity);
        this.lists.resize(capacity);
      },
      (from, to) => {
        this.sizes[to] = this.sizes[from]!;
        this.atimes[to] = this.atimes[from]!;
        this.mtimes[to] = this.mtimes[from]!;
        this.ctimes[to] = this.ctimes[from]!;
        this.uids[to] = this.uids[from]!;
        this.gids[to] = this.gids[from]!;
        this.nlinks[to] = this.nlinks[from]!;
        this.modes[to] = this.modes[from]!;
        this.flags[to] = this.flags[from]!;
        this.replications[to] = this.replications[from]!;
        this.lists.move(from, to);
      },
    );
  }

  /** Inodes that are not directories (files, symlinks, special files). */
  get files(): number {
    return this.fileCount;
  }

  get directories(): number {
    return this.directoryCount;
  }

  /** Inodes held, files and directories, live or in the trash. */
  get count(): number {
    return this.rows.live;
  }

  /** Every row is below this (for per-row marks in invariant checks). */
  get rowEnd(): number {
    return this.rows.end;
  }

  /** The row of an inode, or -1. */
  rowOf(id: number): number {
    return this.rows.find(id);
  }

  /**
   * Appends an inode; its id must exceed every id added before. A directory
   * starts with nlink 2, anything else with 0: linking it counts its entries.
   */
  add(inode: NewInode): number {
    if ((inode.mode & ~0o7777) !== 0) broken(`mode ${inode.mode} has more than permission bits`);
    const kind = inode.kind;
    if ((kind === 'symlink') !== (inode.target !== undefined)) broken(`a ${kind} with target ${inode.target}`);
    if (isDevice(kind) !== (inode.rdev !== undefined)) broken(`a ${kind} with rdev ${inode.rdev}`);
    const row = this.rows.append(inode.id);
    const directory = kind === 'directory';
    this.sizes[row] = inode.target === undefined ? 0 : Buffer.byteLength(inode.target, 'utf8');
    this.atimes[row] = inode.timeUs;
    this.mtimes[row] = inode.timeUs;
    this.ctimes[row] = inode.timeUs;
    this.uids[row] = inode.uid;
    this.gids[row] = inode.gid;
    this.nlinks[row] = directory ? 2 : 0;
    this.modes[row] = inode.mode;
    this.flags[row] = INODE_KINDS.indexOf(kind) | (inode.replicateAll ? FLAG_REPLICATE_ALL : 0);
    this.replications[row] = inode.replication;
    const payload = directory ? new Children(inode.parent ?? 0) : (inode.target ?? inode.rdev);
    if (payload !== undefined) this.payloads.set(inode.id, payload);
    if (directory) this.directoryCount++;
    else this.fileCount++;
    return row;
  }

  remove(row: number): void {
    if (this.isDirectory(row)) {
      if (this.children(row).size !== 0) broken(`removing directory ${this.id(row)} that still has children`);
      this.directoryCount--;
    } else {
      this.fileCount--;
    }
    this.payloads.delete(this.id(row));
    this.rows.remove(row);
    this.lists.release(row);
  }

  /** Squeezes out removed rows (between entries only: rows move). */
  compact(): void {
    this.rows.compact();
    this.lists.compact(this.rows.end);
  }

  id(row: number): InodeId {
    return this.rows.id(row) as InodeId;
  }

  kind(row: number): InodeKind {
    return INODE_KINDS[this.flags[row]! & KIND_MASK]!;
  }

  isDirectory(row: number): boolean {
    return (this.flags[row]! & KIND_MASK) === KIND_DIRECTORY;
  }

  /** A regular file: the only kind with chunks. */
  isFile(row: number): boolean {
    return (this.flags[row]! & KIND_MASK) === KIND_FILE;
  }

  children(row: number): Children {
    const payload = this.payloads.get(this.id(row));
    if (!(payload instanceof Children)) broken(`row ${row} is not a directory`);
    return payload;
  }

  /** A file's chunk slots, holes included. */
  chunkCount(row: number): number {
    if (!this.isFile(row)) broken(`row ${row} is not a file`);
    return this.lists.length(row);
  }

  /** The handle at `index` of a file's chunk list, 0 for a hole or past the end. */
  chunkAt(row: number, index: number): number {
    if (!this.isFile(row)) broken(`row ${row} is not a file`);
    return this.lists.at(row, index);
  }

  /** A copy of a file's chunk list. */
  chunkList(row: number): number[] {
    if (!this.isFile(row)) broken(`row ${row} is not a file`);
    return this.lists.list(row);
  }

  /** A symlink's target. */
  target(row: number): string {
    const payload = this.payloads.get(this.id(row));
    if (typeof payload !== 'string') broken(`row ${row} is not a symlink`);
    return payload;
  }

  /** A device's number; 0 for every other kind. */
  rdev(row: number): number {
    const payload = this.payloads.get(this.id(row));
    return typeof payload === 'number' ? payload : 0;
  }

  /** Puts a handle at `index` of a file's chunk list, extending it with holes as needed. */
  setChunkAt(row: number, index: number, handle: number): void {
    assert(handle !== 0, 'a hole is not a chunk');
    if (!this.isFile(row)) broken(`row ${row} is not a file`);
    this.lists.set(row, index, handle);
  }

  /** Replaces a file's chunk list. */
  setChunks(row: number, list: readonly number[]): void {
    if (!this.isFile(row)) broken(`row ${row} is not a file`);
    assert(list.length === 0 || list[list.length - 1] !== 0, 'a chunk list must not end with a hole');
    this.lists.replace(row, list);
  }

  mode(row: number): number {
    return this.modes[row]!;
  }
  setMode(row: number, mode: number): void {
    if ((mode & ~0o7777) !== 0) broken(`mode ${mode} has more than permission bits`);
    this.modes[row] = mode;
  }
  uid(row: number): number {
    return this.uids[row]!;
  }
  setUid(row: number, uid: number): void {
    this.uids[row] = uid;
  }
  gid(row: number): number {
    return this.gids[row]!;
  }
  setGid(row: number, gid: number): void {
    this.gids[row] = gid;
  }
  size(row: number): number {
    return this.sizes[row]!;
  }
  setSize(row: number, size: number): void {
    if (!(Number.isSafeInteger(size) && size >= 0)) broken(`bad size ${size}`);
    this.sizes[row] = size;
  }
  nlink(row: number): number {
    return this.nlinks[row]!;
  }
  setNlink(row: number, nlink: number): void {
    this.nlinks[row] = nlink;
  }
  atimeUs(row: number): number {
    return this.atimes[row]!;
  }
  setAtimeUs(row: number, timeUs: number): void {
    this.atimes[row] = timeUs;
  }
  mtimeUs(row: number): number {
    return this.mtimes[row]!;
  }
  setMtimeUs(row: number, timeUs: number): void {
    this.mtimes[row] = timeUs;
  }
  ctimeUs(row: number): number {
    return this.ctimes[row]!;
  }
  setCtimeUs(row: number, timeUs: number): void {
    this.ctimes[row] = timeUs;
  }
  /** Sets mtime and ctime together, as every change to a file's content or a directory's entries does. */
  touch(row: number, timeUs: number): void {
    this.mtimes[row] = timeUs;
    this.ctimes[row] = timeUs;
  }
  replication(row: number): number {
    return this.replications[row]!;
  }
  setReplication(row: number, replication: number): void {
    this.replications[row] = replication;
  }
  replicateAll(row: number): boolean {
    return (this.flags[row]! & FLAG_REPLICATE_ALL) !== 0;
  }
  setReplicateAll(row: number, all: boolean): void {
    this.flags[row] = all ? this.flags[row]! | FLAG_REPLICATE_ALL : this.flags[row]! & ~FLAG_REPLICATE_ALL;
  }

  view(row: number): AttrView {
    return {
      inode: this.id(row),
      kind: this.kind(row),
      mode: this.modes[row]!,
      uid: this.uids[row]!,
      gid: this.gids[row]!,
      size: this.sizes[row]!,
      nlink: this.nlinks[row]!,
      atimeUs: this.atimes[row]!,
      mtimeUs: this.mtimes[row]!,
      ctimeUs: this.ctimes[row]!,
      replication: this.replications[row]!,
      replicateAll: this.replicateAll(row),
      chunkCount: this.lists.length(row),
      rdev: this.rdev(row),
    };
  }

  /** Every live row, in ascending id order. */
  forEachRow(fn: (row: number) => void): void {
    const end = this.rows.end;
    for (let row = 0; row < end; row++) if (this.rows.isLive(row)) fn(row);
  }

  /** Asserts that the columns agree with each other. */
  checkStorage(): void {
    let live = 0;
    let files = 0;
    let previous = 0;
    this.forEachRow((row) => {
      live++;
      const id = this.id(row);
      if (!(id > previous)) broken(`inode ids do not ascend at row ${row}`);
      if (this.rowOf(id) !== row) broken(`inode ${id} is not found at row ${row}`);
      if (!payloadFits(this.kind(row), this.payloads.get(id))) broken(`inode ${id}: kind and payload disagree`);
      if (!this.isDirectory(row)) files++;
      previous = id;
    });
    assert(live === this.rows.live, 'inode rows disagree on the count');
    assert(files === this.fileCount && live - files === this.directoryCount, 'inode counts disagree');
    this.lists.checkStorage(this.rows.end, (row) => this.rows.isLive(row) && this.isFile(row));
  }
}

function payloadFits(kind: InodeKind, payload: unknown): boolean {
  switch (kind) {
    case 'directory':
      return payload instanceof Children;
    case 'file':
      return payload === undefined;
    case 'symlink':
      return typeof payload === 'string';
    case 'char-device':
    case 'block-device':
      return typeof payload === 'number';
    case 'fifo':
    case 'socket':
      return payload === undefined;
  }
}
