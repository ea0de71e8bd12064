import { assert } from '../common/assert.js';
import { DfsError, errors } from '../common/errors.js';
import { type ChunkHandle, type ChunkVersion, type InodeId, ROOT_INODE } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { checkName, joinPath, splitPath } from '../common/path.js';
import type { AttrView, ChunkView, InodeKind } from './attr.js';
import { ChunkTable } from './chunk-table.js';
import { InodeTable } from './inode-table.js';
import { broken } from './invariant.js';

export const ROOT_MODE = 0o755;

export interface TrashEntry {
  /** The root of the detached subtree (a file or a directory). */
  readonly inode: InodeId;
  readonly originalPath: string;
  readonly deletedAtUs: number;
}

export interface Ownership {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface NewFile extends Ownership {
  readonly exclusive: boolean;
  /** Already resolved: 1..LIMITS.replicationMax. */
  readonly replication: number;
  readonly replicateAll: boolean;
}

/** Fields a SetAttr changes; undefined leaves one alone. Replication is already resolved. */
export interface AttrChanges {
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly atimeUs?: number | undefined;
  readonly mtimeUs?: number | undefined;
  readonly replication?: number | undefined;
  readonly replicateAll?: boolean | undefined;
}

export interface ListPage {
  readonly entries: { name: string; attr: AttrView }[];
  readonly hasMore: boolean;
}

/**
 * The directory tree, the files' chunk lists, the chunk table and the trash.
 * Every mutation validates everything it can fail on before it changes
 * anything, so a DfsError always leaves the state as it was.
 *
 * Linux semantics (mkdir(2), open(2) with O_CREAT, unlink(2), rmdir(2),
 * rename(2)), except that what unlink, rmdir and a replacing rename remove
 * goes to a trash, whole, until PurgeTrash; `mkdir -p` gives the ancestors it
 * creates the leaf's mode; and "/" can be neither deleted nor renamed.
 * Inode operations (truncate, allocateChunk, commitWrite, statInode,
 * getChunks) reach inodes in the trash too, as Linux lets a process that
 * holds an unlinked file open keep using it; PurgeTrash ends that.
 */
export class Namespace {
  readonly inodes = new InodeTable();
  readonly chunks = new ChunkTable();
  private trashEntries: TrashEntry[] = [];
  private nextInodeId = 2;
  private nextHandle = 1;
  /** The sorted names of the directory listed last, so that paging through a large directory sorts it once. */
  private listCache: { dir: InodeId; names: string[] } | undefined;

  constructor() {
    this.inodes.add({ id: ROOT_INODE, kind: 'directory', mode: ROOT_MODE, uid: 0, gid: 0, timeUs: 0, replication: 0, replicateAll: false });
  }

  get trash(): readonly TrashEntry[] {
    return this.trashEntries;
  }

  get counters(): { nextInode: number; nextHandle: number } {
    return { nextInode: this.nextInodeId, nextHandle: this.nextHandle };
  }

  // ----- queries -----

  /** The row of the inode at `path`. */
  resolve(path: string): number {
    const parts = parsePath(path);
    if (parts.length === 0) return this.rootRow();
    const dir = this.resolveParent(parts);
    return this.rowOfChild(dir, parts, parts.length - 1);
  }

  /** The row of an inode, live or in the trash. */
  inodeRow(inode: number): number {
    const row = this.inodes.rowOf(inode);
    if (row === -1) throw errors.notFound(`inode ${inode}`);
    return row;
  }

  list(path: string, startAfter: string, limit: number): ListPage {
    if (typeof startAfter !== 'string') throw errors.invalid('startAfter must be a string');
    if (!Number.isSafeInteger(limit) || limit < 0) throw errors.invalid(`bad list limit ${limit}`);
    const max = limit === 0 ? LIMITS.listPageMax : Math.min(limit, LIMITS.listPageMax);
    const row = this.resolve(path);
    if (!this.inodes.isDirectory(row)) throw new DfsError('NOT_A_DIRECTORY', `${path} is not a directory`);
    const dir = this.inodes.id(row);
    if (this.listCache?.dir !== dir) {
      // Sorted by UTF-16 code units (JS string order): byte order except
      // where characters above U+FFFF meet those in U+E000..U+FFFF.
      this.listCache = { dir, names: [...this.inodes.children(row).keys()].sort() };
    }
    const names = this.listCache.names;
    const children = this.inodes.children(row);
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (names[mid]! <= startAfter) lo = mid + 1;
      else hi = mid;
    }
    const end = Math.min(names.length, lo + max);
    const entries: { name: string; attr: AttrView }[] = [];
    for (let i = lo; i < end; i++) {
      const name = names[i]!;
      const child = children.get(name);
      if (child === undefined) broken(`list cache of ${dir} is stale`);
      entries.push({ name, attr: this.inodes.view(this.inodes.rowOf(child)) });
    }
    return { entries, hasMore: end < names.length };
  }

  getChunks(inode: number, firstIndex: number, count: number): { attr: AttrView; chunks: ChunkView[] } {
    if (!Number.isSafeInteger(firstIndex) || firstIndex < 0) throw errors.invalid(`bad chunk index ${firstIndex}`);
    if (!Number.isSafeInteger(count) || count < 0) throw errors.invalid(`bad chunk count ${count}`);
    const row = this.fileRow(inode);
    const list = this.inodes.chunks(row);
    const end = Math.min(list.length, firstIndex + (count === 0 ? LIMITS.chunksPageMax : Math.min(count, LIMITS.chunksPageMax)));
    const chunks: ChunkView[] = [];
    for (let index = firstIndex; index < end; index++) {
      const handle = list[index]!;
      if (handle !== 0) chunks.push({ index, handle: handle as ChunkHandle, version: this.chunks.version(handle) });
    }
    return { attr: this.inodes.view(row), chunks };
  }

  /** Every chunk of a file, holes skipped: for work inside the master, not bounded by a page. */
  forEachChunkOf(inode: number, fn: (handle: ChunkHandle) => void): void {
    for (const handle of this.inodes.chunks(this.fileRow(inode))) if (handle !== 0) fn(handle as ChunkHandle);
  }

  /** The chunk at `index` of a file, or undefined for a hole or past the end. */
  chunkAt(row: number, index: number): ChunkView | undefined {
    const handle = this.inodes.chunks(row)[index];
    if (handle === undefined || handle === 0) return undefined;
    return { index, handle: handle as ChunkHandle, version: this.chunks.version(handle) };
  }

  // ----- namespace mutations -----

  /** mkdir(2), or `mkdir -p` with `parents`. Returns the directory's row. */
  mkdir(path: string, owner: Ownership, parents: boolean, timeUs: number): number {
    const parts = parsePath(path);
    if (parts.length === 0) {
      if (parents) return this.rootRow();
      throw errors.exists('/');
    }
    let row = this.rootRow();
    let depth = 0;
    for (; depth < parts.length - 1; depth++) {
      const child = this.inodes.children(row).get(parts[depth]!);
      if (child === undefined) {
        if (!parents) throw errors.notFound(joinPath(parts.slice(0, depth + 1)));
        break;
      }
      const childRow = this.inodes.rowOf(child);
      if (!this.inodes.isDirectory(childRow)) throw notADirectory(parts, depth);
      row = childRow;
    }
    if (depth === parts.length - 1) {
      const existing = this.inodes.children(row).get(parts[depth]!);
      if (existing !== undefined) {
        const existingRow = this.inodes.rowOf(existing);
        if (parents && this.inodes.isDirectory(existingRow)) return existingRow;
        throw errors.exists(path);
      }
    }
    // Nothing below can fail: every missing component from `depth` on is new.
    for (; depth < parts.length; depth++) {
      row = this.linkNew(row, parts[depth]!, 'directory', owner, 0, false, timeUs);
    }
    return row;
  }

  /** open(2) with O_CREAT (and O_EXCL when `exclusive`). Returns the file's row. */
  create(path: string, file: NewFile, timeUs: number): number {
    const parts = parsePath(path);
    if (parts.length === 0) {
      throw file.exclusive ? errors.exists('/') : new DfsError('IS_A_DIRECTORY', '/ is a directory');
    }
    const dir = this.resolveParent(parts);
    const name = parts[parts.length - 1]!;
    const existing = this.inodes.children(dir).get(name);
    if (existing !== undefined) {
      if (file.exclusive) throw errors.exists(path);
      const row = this.inodes.rowOf(existing);
      if (this.inodes.isDirectory(row)) throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
      return row;
    }
    if (!(file.replication >= 1 && file.replication <= LIMITS.replicationMax)) broken(`unresolved replication ${file.replication}`);
    return this.linkNew(dir, name, 'file', file, file.replication, file.replicateAll, timeUs);
  }

  /** unlink(2) or rmdir(2), or `rm -r` with `recursive`: the entry and its subtree move to the trash. */
  delete(path: string, recursive: boolean, timeUs: number): void {
    const parts = parsePath(path);
    if (parts.length === 0) throw errors.invalid('cannot delete /');
    const dir = this.resolveParent(parts);
    const row = this.rowOfChild(dir, parts, parts.length - 1);
    if (!recursive && this.inodes.isDirectory(row) && this.inodes.children(row).size > 0) {
      throw new DfsError('NOT_EMPTY', `${path} is not empty`);
    }
    this.unlink(dir, parts[parts.length - 1]!, row, timeUs);
    this.trashEntries.push({ inode: this.inodes.id(row), originalPath: path, deletedAtUs: timeUs });
  }

  /** rename(2), or renameat2(2) with RENAME_NOREPLACE when `noReplace`. A replaced entry moves to the trash. */
  rename(source: string, destination: string, noReplace: boolean, timeUs: number): void {
    const from = parsePath(source);
    const to = parsePath(destination);
    if (from.length === 0 || to.length === 0) throw errors.invalid('cannot rename / or onto /');
    const fromDir = this.resolveParent(from);
    const row = this.rowOfChild(fromDir, from, from.length - 1);
    const toDir = this.resolveParent(to);
    if (source === destination) return; // canonical paths: the same entry
    const isDirectory = this.inodes.isDirectory(row);
    if (isDirectory && to.length > from.length && from.every((part, i) => part === to[i])) {
      throw errors.invalid(`cannot move ${source} into itself (${destination})`);
    }
    const toName = to[to.length - 1]!;
    const replaced = this.inodes.children(toDir).get(toName);
    let replacedRow = -1;
    if (replaced !== undefined) {
      if (noReplace) throw errors.exists(destination);
      replacedRow = this.inodes.rowOf(replaced);
      const replacedIsDirectory = this.inodes.isDirectory(replacedRow);
      if (isDirectory && !replacedIsDirectory) throw new DfsError('NOT_A_DIRECTORY', `${destination} is not a directory`);
      if (!isDirectory && replacedIsDirectory) throw new DfsError('IS_A_DIRECTORY', `${destination} is a directory`);
      if (replacedIsDirectory && this.inodes.children(replacedRow).size > 0) {
        throw new DfsError('NOT_EMPTY', `${destination} is not empty`);
      }
    }
    if (replacedRow !== -1) {
      this.unlink(toDir, toName, replacedRow, timeUs);
      this.trashEntries.push({ inode: this.inodes.id(replacedRow), originalPath: destination, deletedAtUs: timeUs });
    }
    this.unlink(fromDir, from[from.length - 1]!, row, timeUs);
    this.link(toDir, toName, row, timeUs);
    this.inodes.setCtimeUs(row, timeUs);
  }

  /** chmod, chown, utimes and the replication goal. Returns the inode's row. */
  setAttr(path: string, changes: AttrChanges, timeUs: number): number {
    const row = this.resolve(path);
    if (this.inodes.isDirectory(row) && (changes.replication !== undefined || changes.replicateAll !== undefined)) {
      throw errors.invalid(`${path} is a directory: replication applies to files`);
    }
    const inodes = this.inodes;
    if (changes.mode !== undefined) inodes.setMode(row, changes.mode);
    if (changes.uid !== undefined) inodes.setUid(row, changes.uid);
    if (changes.gid !== undefined) inodes.setGid(row, changes.gid);
    if (changes.atimeUs !== undefined) inodes.setAtimeUs(row, changes.atimeUs);
    if (changes.mtimeUs !== undefined) inodes.setMtimeUs(row, changes.mtimeUs);
    if (changes.replication !== undefined) inodes.setReplication(row, changes.replication);
    if (changes.replicateAll !== undefined) inodes.setReplicateAll(row, changes.replicateAll);
    inodes.setCtimeUs(row, timeUs);
    return row;
  }

  // ----- file content -----

  /** truncate(2): chunks wholly past the new end are released; growing leaves holes. */
  truncate(inode: number, size: number, chunkSizeBytes: number, timeUs: number): number {
    const row = this.fileRow(inode);
    if (!(size <= fileSizeMax(chunkSizeBytes))) throw tooLarge(size, chunkSizeBytes);
    const keep = Math.ceil(size / chunkSizeBytes);
    const list = this.inodes.chunks(row);
    if (list.length > keep) {
      const kept = list.slice(0, keep);
      for (let index = keep; index < list.length; index++) if (list[index] !== 0) this.chunks.release(list[index]!);
      while (kept.length > 0 && kept[kept.length - 1] === 0) kept.pop();
      this.inodes.setChunks(row, kept);
    }
    this.inodes.setSize(row, size);
    this.inodes.touch(row, timeUs);
    return row;
  }

  /** The chunk at `index`, allocated (version 0, no replica yet) unless it exists. */
  allocateChunk(inode: number, index: number): { row: number; chunk: ChunkView } {
    const row = this.fileRow(inode);
    if (!(index < LIMITS.chunksPerFileMax)) {
      throw new DfsError('TOO_LARGE', `chunk index ${index} is past the limit of ${LIMITS.chunksPerFileMax} chunks per file`);
    }
    const existing = this.chunkAt(row, index);
    if (existing !== undefined) return { row, chunk: existing };
    const handle = this.nextHandle++ as ChunkHandle;
    assert(Number.isSafeInteger(handle), 'chunk handles exhausted');
    const version = 0 as ChunkVersion;
    this.chunks.add({ handle, version, confirmedVersion: version, refCount: 1, inode: this.inodes.id(row), index });
    this.inodes.setChunkAt(row, index, handle);
    return { row, chunk: { index, handle, version } };
  }

  /** Makes the bytes up to `endOffset` part of the file. */
  commitWrite(inode: number, endOffset: number, chunkSizeBytes: number, timeUs: number): number {
    const row = this.fileRow(inode);
    if (!(endOffset <= fileSizeMax(chunkSizeBytes))) throw tooLarge(endOffset, chunkSizeBytes);
    if (endOffset > this.inodes.size(row)) this.inodes.setSize(row, endOffset);
    this.inodes.touch(row, timeUs);
    return row;
  }

  // ----- trash -----

  /** Destroys the trash entries deleted before `deletedBeforeUs`: their inodes go, their chunks are released. */
  purgeTrash(deletedBeforeUs: number): { inodes: number; chunks: number } {
    let inodes = 0;
    let chunks = 0;
    const kept: TrashEntry[] = [];
    for (const entry of this.trashEntries) {
      if (entry.deletedAtUs >= deletedBeforeUs) {
        kept.push(entry);
        continue;
      }
      const stack: InodeId[] = [entry.inode];
      for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
        const row = this.inodes.rowOf(id);
        if (row === -1) broken(`trash holds missing inode ${id}`);
        if (this.inodes.isDirectory(row)) {
          const children = this.inodes.children(row);
          for (const child of children.values()) stack.push(child);
          children.clear();
        } else {
          for (const handle of this.inodes.chunks(row)) if (handle !== 0 && this.chunks.release(handle)) chunks++;
        }
        this.inodes.remove(row);
        inodes++;
      }
    }
    this.trashEntries = kept;
    return { inodes, chunks };
  }

  /** Squeezes removed rows out of the tables. Rows move: call between entries only. */
  compact(): void {
    this.inodes.compact();
    this.chunks.compact();
  }

  // ----- invariants -----

  /**
   * Asserts the tree, nlink, trash, chunk references and counters. Marks and
   * counts live in typed arrays by row: restore runs this over millions of
   * records.
   */
  checkInvariants(chunkSizeBytes: number): void {
    const inodes = this.inodes;
    const chunks = this.chunks;
    inodes.checkStorage();
    chunks.checkStorage();
    const rootRow = inodes.rowOf(ROOT_INODE);
    assert(rootRow !== -1 && inodes.isDirectory(rootRow), 'the root is missing or not a directory');
    const seen = new Uint8Array(inodes.rowEnd);
    let seenCount = 0;
    const references = new Uint32Array(chunks.rowEnd);
    const walk = (top: InodeId, where: string): void => {
      const stack: InodeId[] = [top];
      for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
        const row = inodes.rowOf(id);
        if (row === -1) broken(`inode ${id} is linked but missing (${where})`);
        if (seen[row] !== 0) broken(`inode ${id} is reachable twice (${where})`);
        seen[row] = 1;
        seenCount++;
        if (!(id < this.nextInodeId)) broken(`inode ${id} is not below the counter ${this.nextInodeId}`);
        if ((inodes.mode(row) & ~0o7777) !== 0) broken(`inode ${id} has mode ${inodes.mode(row)}`);
        if (inodes.isDirectory(row)) {
          let subdirectories = 0;
          for (const [name, child] of inodes.children(row)) {
            if (!isValidName(name)) broken(`directory ${id} has an entry with a bad name ${JSON.stringify(name)}`);
            const childRow = inodes.rowOf(child);
            if (childRow === -1) broken(`entry ${name} of ${id} points to missing inode ${child}`);
            if (inodes.isDirectory(childRow)) subdirectories++;
            stack.push(child);
          }
          if (inodes.nlink(row) !== 2 + subdirectories) broken(`directory ${id} has nlink ${inodes.nlink(row)}, expected ${2 + subdirectories}`);
          if (!(inodes.size(row) === 0 && inodes.replication(row) === 0 && !inodes.replicateAll(row))) broken(`directory ${id} has file attributes`);
        } else {
          if (inodes.nlink(row) !== 1) broken(`file ${id} has nlink ${inodes.nlink(row)}`);
          const replication = inodes.replication(row);
          if (!(replication >= 1 && replication <= LIMITS.replicationMax)) broken(`file ${id} has replication ${replication}`);
          if (!(inodes.size(row) <= fileSizeMax(chunkSizeBytes))) broken(`file ${id} is larger than the limit`);
          const list = inodes.chunks(row);
          if (!(list.length <= LIMITS.chunksPerFileMax)) broken(`file ${id} has ${list.length} chunk slots`);
          if (!(list.length === 0 || list[list.length - 1] !== 0)) broken(`file ${id}'s chunk list ends with a hole`);
          for (let index = 0; index < list.length; index++) {
            const handle = list[index]!;
            if (handle === 0) continue;
            const chunkRow = chunks.rowOf(handle);
            if (chunkRow === -1) broken(`file ${id} holds unknown chunk ${handle}`);
            references[chunkRow]++;
            if (chunks.ownerAt(chunkRow) === id && chunks.indexAt(chunkRow) !== index) {
              broken(`chunk ${handle} is at ${index} in its owner ${id}, recorded at ${chunks.indexAt(chunkRow)}`);
            }
          }
        }
      }
    };
    walk(ROOT_INODE, 'namespace');
    for (const entry of this.trashEntries) walk(entry.inode, `trash ${entry.originalPath}`);
    if (seenCount !== inodes.count) broken(`${inodes.count - seenCount} inodes are neither in the namespace nor in the trash`);
    for (let row = 0; row < chunks.rowEnd; row++) {
      const handle = chunks.handleAt(row);
      if (handle === 0) continue;
      if (references[row] !== chunks.refCountAt(row)) broken(`chunk ${handle} has refCount ${chunks.refCountAt(row)} but ${references[row]} references`);
      if (!(handle < this.nextHandle)) broken(`chunk ${handle} is not below the counter ${this.nextHandle}`);
      const owner = chunks.ownerAt(row);
      const ownerRow = inodes.rowOf(owner);
      if (!(ownerRow !== -1 && !inodes.isDirectory(ownerRow))) broken(`chunk ${handle}'s owner ${owner} is not a file`);
      if (inodes.chunks(ownerRow)[chunks.indexAt(row)] !== handle) broken(`chunk ${handle}'s owner ${owner} does not hold it at ${chunks.indexAt(row)}`);
    }
  }

  // ----- snapshot support (snapshot.ts) -----

  /** Sets the counters and the trash of a namespace being restored. */
  restoreState(nextInode: number, nextHandle: number, trash: TrashEntry[]): void {
    this.nextInodeId = nextInode;
    this.nextHandle = nextHandle;
    this.trashEntries = trash;
    this.listCache = undefined;
  }

  /**
   * Links an existing inode under a directory of a namespace being restored
   * (nlink comes from the snapshot). `name` must own its characters: one
   * decoded from bytes does, a slice of a longer string does not.
   */
  restoreEntry(dirRow: number, name: string, child: InodeId): void {
    this.inodes.children(dirRow).set(name, child);
  }

  // ----- internals -----

  private rootRow(): number {
    return this.inodes.rowOf(ROOT_INODE);
  }

  /** The directory that holds the last component of `parts`. */
  private resolveParent(parts: readonly string[]): number {
    let row = this.rootRow();
    for (let depth = 0; depth < parts.length - 1; depth++) {
      row = this.rowOfChild(row, parts, depth);
      if (!this.inodes.isDirectory(row)) throw notADirectory(parts, depth);
    }
    return row;
  }

  private rowOfChild(dirRow: number, parts: readonly string[], depth: number): number {
    const child = this.inodes.children(dirRow).get(parts[depth]!);
    if (child === undefined) throw errors.notFound(joinPath(parts.slice(0, depth + 1)));
    return this.inodes.rowOf(child);
  }

  private fileRow(inode: number): number {
    const row = this.inodeRow(inode);
    if (this.inodes.isDirectory(row)) throw new DfsError('IS_A_DIRECTORY', `inode ${inode} is a directory`);
    return row;
  }

  private linkNew(
    dirRow: number,
    name: string,
    kind: InodeKind,
    owner: Ownership,
    replication: number,
    replicateAll: boolean,
    timeUs: number,
  ): number {
    const id = this.nextInodeId++ as InodeId;
    assert(Number.isSafeInteger(id), 'inode ids exhausted');
    const mode = owner.mode & 0o7777;
    const row = this.inodes.add({ id, kind, mode, uid: owner.uid, gid: owner.gid, timeUs, replication, replicateAll });
    this.link(dirRow, name, row, timeUs);
    return row;
  }

  private link(dirRow: number, name: string, row: number, timeUs: number): void {
    const children = this.inodes.children(dirRow);
    if (children.has(name)) broken(`linking over existing entry ${name}`);
    children.set(ownedName(name), this.inodes.id(row));
    if (this.inodes.isDirectory(row)) this.inodes.setNlink(dirRow, this.inodes.nlink(dirRow) + 1);
    this.inodes.touch(dirRow, timeUs);
    this.listCache = undefined;
  }

  private unlink(dirRow: number, name: string, row: number, timeUs: number): void {
    const removed = this.inodes.children(dirRow).delete(name);
    if (!removed) broken(`unlinking missing entry ${name}`);
    if (this.inodes.isDirectory(row)) this.inodes.setNlink(dirRow, this.inodes.nlink(dirRow) - 1);
    this.inodes.touch(dirRow, timeUs);
    this.listCache = undefined;
  }
}

/** Bytes in the largest file: LIMITS.chunksPerFileMax chunks. */
export function fileSizeMax(chunkSizeBytes: number): number {
  return LIMITS.chunksPerFileMax * chunkSizeBytes;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * splitPath, and no lone UTF-16 surrogates: such a name cannot travel as a
 * protobuf string, so it could never be looked up again.
 */
export function parsePath(path: string): string[] {
  const parts = splitPath(path);
  if (LONE_SURROGATE.test(path)) throw errors.invalid('path is not valid Unicode');
  return parts;
}

/** Whether `name` is a component parsePath accepts. */
export function isValidName(name: string): boolean {
  try {
    checkName(name);
  } catch (err) {
    if (err instanceof DfsError) return false;
    throw err;
  }
  return !name.includes('/') && !LONE_SURROGATE.test(name);
}

/**
 * A copy of a name that owns its characters. split() returns slices that keep
 * the whole path string alive, so a stored key could pin up to 4 KiB.
 */
function ownedName(name: string): string {
  return Buffer.from(name, 'utf8').toString('utf8');
}

function notADirectory(parts: readonly string[], depth: number): DfsError {
  return new DfsError('NOT_A_DIRECTORY', `${joinPath(parts.slice(0, depth + 1))} is not a directory`);
}

function tooLarge(size: number, chunkSizeBytes: number): DfsError {
  return new DfsError('TOO_LARGE', `size ${size} is past the file size limit of ${fileSizeMax(chunkSizeBytes)} bytes`);
}
