import { assert } from '../common/assert.js';
import { DfsError, errors } from '../common/errors.js';
import { type ChunkHandle, type ChunkVersion, type InodeId, ROOT_INODE } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { joinPath } from '../common/path.js';
import { type AttrView, type ChunkView, type InodeKind, isDevice } from './attr.js';
import { ChunkTable } from './chunk-table.js';
import { InodeTable } from './inode-table.js';
import { broken } from './invariant.js';
import { checkNamespace } from './namespace-invariants.js';
import { parsePath, requireName } from './names.js';
import {
  type Caller,
  changedMode,
  isRoot,
  MAY_EXEC,
  MAY_WRITE,
  MAY_READ,
  modeAfterWrite,
  newOwnership,
  type Owned,
  ownsOrRoot,
  requirePermission,
  requireStickyAllows,
  requireTimesAllowed,
  type TimeChange,
} from './permissions.js';

export const ROOT_MODE = 0o755;

export interface TrashEntry {
  /** The top of the detached subtree (a directory), or an inode whose last link went. */
  readonly inode: InodeId;
  /** Where it was: its path, or "@<parent inode>/<name>" when it was removed by inode. */
  readonly originalPath: string;
  readonly deletedAtUs: number;
}

/** A new inode as a request describes it. */
export interface NodeSpec {
  readonly kind: InodeKind;
  /** Permission bits (0o7777); symlinks always get 0o777. */
  readonly mode: number;
  /** Without a caller, the owner. With one, 0 or an owner to ask for (permissions.ts newOwnership). */
  readonly uid: number;
  readonly gid: number;
  /** Files: an existing name is ALREADY_EXISTS rather than the existing file. Other kinds always are. */
  readonly exclusive: boolean;
  /** Files: already resolved, 1..LIMITS.replicationMax. Other kinds: 0. */
  readonly replication: number;
  readonly replicateAll: boolean;
  /** Symlinks: the target, already validated (requireSymlinkTarget). */
  readonly target?: string | undefined;
  /** Devices: the device number. */
  readonly rdev?: number | undefined;
}

/** Fields a SetAttr changes; undefined leaves one alone. Replication is already resolved. */
export interface AttrChanges {
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** A time in µs, or 'now': the entry's time. */
  readonly atime?: TimeChange;
  readonly mtime?: TimeChange;
  readonly replication?: number | undefined;
  readonly replicateAll?: boolean | undefined;
}

export interface RenameFlags {
  /** RENAME_NOREPLACE: an existing new name is ALREADY_EXISTS. */
  readonly noReplace: boolean;
  /** RENAME_EXCHANGE: both names must exist, and swap. */
  readonly exchange: boolean;
}

export interface ListPage {
  readonly entries: { name: string; attr: AttrView }[];
  readonly hasMore: boolean;
}

type RemoveMode = 'unlink' | 'rmdir' | 'either' | 'recursive';

/**
 * The directory tree, the files' chunk lists, the chunk table and the trash.
 * Every mutation validates everything it can fail on before it changes
 * anything, so a DfsError always leaves the state as it was.
 *
 * Linux semantics (open(2) with O_CREAT, mkdir(2), mknod(2), symlink(2),
 * link(2), unlink(2), rmdir(2), renameat2(2), chmod/chown/utimensat,
 * truncate(2)), with its error codes, its checks in its order, and its
 * permission rules (permissions.ts) for requests that name a caller. Where
 * this differs:
 * - What unlink, rmdir and a replacing rename remove goes to a trash until
 *   PurgeTrash: an inode whose last link went (nlink 0) or a directory,
 *   whole. Inode operations (stat, setattr, truncate, chunks, writes) reach
 *   trashed inodes, as Linux lets a process that holds an unlinked file
 *   keep using it.
 * - `delete` with `recursive` (`rm -r` in one step) moves a whole subtree to
 *   the trash. Its entries keep counting in their inodes' nlink until the
 *   purge, so a file hard-linked both inside and outside the subtree shows
 *   one link more until then, and is purged with the subtree if its other
 *   links are gone by then.
 * - A deleted directory is empty to every lookup, even one deleted whole
 *   with its subtree; creating in it is NOT_FOUND, as Linux's IS_DEADDIR.
 * - Symlinks are never followed. One in the middle of a path is
 *   NOT_A_DIRECTORY, as a file there is (Linux would follow it or say ELOOP).
 * - `mkdir -p` gives the ancestors it creates the leaf's mode; "/" can be
 *   neither deleted nor renamed.
 * - Reads never update atime (as a noatime mount).
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

  /** The row of the inode at `path`; with a caller, every directory on the way must grant it search. */
  resolve(path: string, caller?: Caller): number {
    const parts = parsePath(path);
    if (parts.length === 0) return this.rootRow();
    const dir = this.resolveParent(parts, caller);
    return this.rowOfChild(dir, parts, parts.length - 1);
  }

  /** The row of an inode, live or in the trash. */
  inodeRow(inode: number): number {
    const row = this.inodes.rowOf(inode);
    if (row === -1) throw errors.notFound(`inode ${inode}`);
    return row;
  }

  /** The row of entry `name` in directory `parent`: lookup(2)'s step, which needs search on the directory. */
  lookup(parent: number, name: string, caller: Caller | undefined): number {
    requireName(name);
    const dir = this.parentDir(parent, caller);
    const child = this.inodes.children(dir).get(name);
    if (child === undefined) throw errors.notFound(entryName(parent, name));
    return this.inodes.rowOf(child);
  }

  /** A page of the directory at `path`; with a caller, search on the way and read on the directory. */
  list(path: string, startAfter: string, limit: number, caller?: Caller): ListPage {
    checkPage(startAfter, limit);
    const row = this.resolve(path, caller);
    if (!this.inodes.isDirectory(row)) throw new DfsError('NOT_A_DIRECTORY', `${path} is not a directory`);
    if (caller !== undefined) requirePermission(this.owned(row), caller, MAY_READ, path);
    return this.page(row, startAfter, limit);
  }

  /** A page of the directory `inode`, which the caller must be able to read. A deleted one is empty. */
  readDir(inode: number, startAfter: string, limit: number, caller: Caller | undefined): ListPage {
    checkPage(startAfter, limit);
    const row = this.inodeRow(inode);
    if (!this.inodes.isDirectory(row)) throw new DfsError('NOT_A_DIRECTORY', `inode ${inode} is not a directory`);
    if (caller !== undefined) requirePermission(this.owned(row), caller, MAY_READ, `inode ${inode}`);
    if (!this.isLive(row)) return { entries: [], hasMore: false };
    return this.page(row, startAfter, limit);
  }

  /** A symlink's target; INVALID_ARGUMENT for any other kind, as readlink(2). */
  readlink(inode: number): string {
    const row = this.inodeRow(inode);
    if (this.inodes.kind(row) !== 'symlink') throw errors.invalid(`inode ${inode} is not a symlink`);
    return this.inodes.target(row);
  }

  getChunks(inode: number, firstIndex: number, count: number): { attr: AttrView; chunks: ChunkView[] } {
    if (!Number.isSafeInteger(firstIndex) || firstIndex < 0) throw errors.invalid(`bad chunk index ${firstIndex}`);
    if (!Number.isSafeInteger(count) || count < 0) throw errors.invalid(`bad chunk count ${count}`);
    const row = this.fileRow(inode);
    const end = Math.min(this.inodes.chunkCount(row), firstIndex + (count === 0 ? LIMITS.chunksPageMax : Math.min(count, LIMITS.chunksPageMax)));
    const chunks: ChunkView[] = [];
    for (let index = firstIndex; index < end; index++) {
      const handle = this.inodes.chunkAt(row, index);
      if (handle !== 0) chunks.push({ index, handle: handle as ChunkHandle, version: this.chunks.version(handle) });
    }
    return { attr: this.inodes.view(row), chunks };
  }

  /** Every chunk of a file with its index, holes skipped: for work inside the master, not bounded by a page. */
  forEachChunkOf(inode: number, fn: (handle: ChunkHandle, index: number) => void): void {
    const row = this.fileRow(inode);
    // In place, as getChunks reads: fsck walks every file through here.
    for (let index = 0; index < this.inodes.chunkCount(row); index++) {
      const handle = this.inodes.chunkAt(row, index);
      if (handle !== 0) fn(handle as ChunkHandle, index);
    }
  }

  /** The chunk at `index` of a file, or undefined for a hole or past the end. */
  chunkAt(row: number, index: number): ChunkView | undefined {
    const handle = this.inodes.chunkAt(row, index);
    if (handle === 0) return undefined;
    return { index, handle: handle as ChunkHandle, version: this.chunks.version(handle) };
  }

  // ----- namespace mutations by path -----

  /** mkdir(2), or `mkdir -p` with `parents`. Returns the directory's row. */
  mkdir(path: string, spec: NodeSpec, parents: boolean, caller: Caller | undefined, timeUs: number): number {
    assert(spec.kind === 'directory', 'mkdir makes directories');
    const parts = parsePath(path);
    if (parts.length === 0) {
      if (parents) return this.rootRow();
      throw errors.exists('/');
    }
    if (!parents) return this.makeNode(this.resolveParent(parts, caller), parts[parts.length - 1]!, spec, caller, timeUs, path);
    let row = this.rootRow();
    let depth = 0;
    for (; depth < parts.length; depth++) {
      this.search(row, caller, joinPath(parts.slice(0, depth)));
      const child = this.inodes.children(row).get(parts[depth]!);
      if (child === undefined) break;
      const childRow = this.inodes.rowOf(child);
      if (!this.inodes.isDirectory(childRow)) {
        if (depth === parts.length - 1) throw errors.exists(path);
        throw notADirectory(parts, depth);
      }
      row = childRow;
    }
    if (depth === parts.length) return row;
    // Every later directory is made by the caller inside the one made before:
    // it must be able to write and search there, so that nothing below fails
    // once the first is made.
    if (caller !== undefined && !isRoot(caller) && depth < parts.length - 1 && (spec.mode & 0o300) !== 0o300) {
      throw new DfsError('PERMISSION_DENIED', `permission denied: mode ${spec.mode.toString(8)} does not let its owner make ${path} inside it`);
    }
    for (; depth < parts.length; depth++) row = this.makeNode(row, parts[depth]!, spec, caller, timeUs, joinPath(parts.slice(0, depth + 1)));
    return row;
  }

  /** open(2) with O_CREAT (and O_EXCL when `exclusive`). Returns the file's row. */
  create(path: string, spec: NodeSpec, caller: Caller | undefined, timeUs: number): number {
    assert(spec.kind === 'file', 'create makes files');
    const parts = parsePath(path);
    if (parts.length === 0) {
      throw spec.exclusive ? errors.exists('/') : new DfsError('IS_A_DIRECTORY', '/ is a directory');
    }
    return this.makeNode(this.resolveParent(parts, caller), parts[parts.length - 1]!, spec, caller, timeUs, path);
  }

  /** unlink(2) or rmdir(2), whichever the entry needs, or `rm -r` with `recursive`. */
  delete(path: string, recursive: boolean, caller: Caller | undefined, timeUs: number): void {
    const parts = parsePath(path);
    if (parts.length === 0) throw errors.invalid('cannot delete /');
    const dir = this.resolveParent(parts, caller);
    this.removeEntry(dir, parts[parts.length - 1]!, recursive ? 'recursive' : 'either', caller, timeUs, path);
  }

  /** rename(2), or renameat2(2) with RENAME_NOREPLACE when `noReplace`. */
  rename(source: string, destination: string, noReplace: boolean, caller: Caller | undefined, timeUs: number): void {
    const from = parsePath(source);
    const to = parsePath(destination);
    if (from.length === 0 || to.length === 0) throw errors.invalid('cannot rename / or onto /');
    const fromDir = this.resolveParent(from, caller);
    const toDir = this.resolveParent(to, caller);
    this.renameEntry(fromDir, from[from.length - 1]!, toDir, to[to.length - 1]!, { noReplace, exchange: false }, caller, timeUs, {
      from: source,
      to: destination,
    });
  }

  // ----- namespace mutations by inode -----

  /** mknod(2), mkdir(2), symlink(2), or open(2) with O_CREAT, in directory `parent`. Returns the row. */
  makeNodeAt(parent: number, name: string, spec: NodeSpec, caller: Caller | undefined, timeUs: number): number {
    requireName(name);
    const dir = this.parentDir(parent, caller);
    return this.makeNode(dir, name, spec, caller, timeUs, entryName(parent, name));
  }

  /** link(2): a new entry `name` in `parent` for the non-directory `inode`. Returns its row. */
  link(inode: number, parent: number, name: string, caller: Caller | undefined, timeUs: number): number {
    requireName(name);
    const row = this.inodeRow(inode);
    const dir = this.parentDir(parent, caller);
    const where = entryName(parent, name);
    if (this.inodes.children(dir).has(name)) throw errors.exists(where);
    if (caller !== undefined) requirePermission(this.owned(dir), caller, MAY_WRITE | MAY_EXEC, `inode ${parent}`);
    if (this.inodes.isDirectory(row)) throw new DfsError('NOT_PERMITTED', `inode ${inode} is a directory: directories cannot be hard-linked`);
    if (this.inodes.nlink(row) === 0) throw errors.notFound(`inode ${inode} (unlinked)`);
    if (this.inodes.nlink(row) >= LIMITS.linksMax) throw new DfsError('TOO_MANY_LINKS', `inode ${inode} already has ${LIMITS.linksMax} links`);
    this.linkEntry(dir, name, row, timeUs);
    this.inodes.setCtimeUs(row, timeUs);
    return row;
  }

  /** unlink(2), or rmdir(2) with `directory`: the entry `name` of `parent`. */
  remove(parent: number, name: string, directory: boolean, caller: Caller | undefined, timeUs: number): void {
    requireName(name);
    const dir = this.parentDir(parent, caller);
    this.removeEntry(dir, name, directory ? 'rmdir' : 'unlink', caller, timeUs, entryName(parent, name));
  }

  /** renameat2(2) between entries named by their directories' inodes. */
  renameAt(parent: number, name: string, newParent: number, newName: string, flags: RenameFlags, caller: Caller | undefined, timeUs: number): void {
    requireName(name);
    requireName(newName);
    const fromDir = this.parentDir(parent, caller);
    const toDir = this.parentDir(newParent, caller);
    this.renameEntry(fromDir, name, toDir, newName, flags, caller, timeUs, { from: entryName(parent, name), to: entryName(newParent, newName) });
  }

  // ----- attributes -----

  /** chmod, chown, utimensat and the replication goal of the inode at `row`. Returns the row. */
  setAttr(row: number, changes: AttrChanges, caller: Caller | undefined, timeUs: number, what: string): number {
    const inodes = this.inodes;
    if ((changes.replication !== undefined || changes.replicateAll !== undefined) && !inodes.isFile(row)) {
      throw errors.invalid(`${what} is a ${inodes.kind(row)}: replication applies to files`);
    }
    // Linux has no lchmod (fchmodat with AT_SYMLINK_NOFOLLOW is EOPNOTSUPP): a symlink's mode is 0777 for good.
    if (changes.mode !== undefined && inodes.kind(row) === 'symlink') throw errors.invalid(`${what} is a symlink: its mode cannot change`);
    let mode = changes.mode;
    if (caller !== undefined) {
      const owned = this.owned(row);
      mode = changedMode(owned, caller, changes, what);
      requireTimesAllowed(owned, caller, changes.atime, changes.mtime, what);
      if ((changes.replication !== undefined || changes.replicateAll !== undefined) && !ownsOrRoot(owned, caller)) {
        throw new DfsError('NOT_PERMITTED', `${what}: only the owner may change the replication`);
      }
    }
    if (mode !== undefined) inodes.setMode(row, mode);
    if (changes.uid !== undefined) inodes.setUid(row, changes.uid);
    if (changes.gid !== undefined) inodes.setGid(row, changes.gid);
    if (changes.atime !== undefined) inodes.setAtimeUs(row, changes.atime === 'now' ? timeUs : changes.atime);
    if (changes.mtime !== undefined) inodes.setMtimeUs(row, changes.mtime === 'now' ? timeUs : changes.mtime);
    if (changes.replication !== undefined) inodes.setReplication(row, changes.replication);
    if (changes.replicateAll !== undefined) inodes.setReplicateAll(row, changes.replicateAll);
    inodes.setCtimeUs(row, timeUs);
    return row;
  }

  /** A read under relatime: atime only, as the kernel's own access-time update (no ctime, no permission). */
  accessed(row: number, timeUs: number): number {
    this.inodes.setAtimeUs(row, timeUs);
    return row;
  }

  // ----- file content -----

  /**
   * truncate(2): chunks wholly past the new end are released; growing leaves
   * holes. mtime and ctime change even when the size does not, as Linux's
   * truncate(2) and open(O_TRUNC) do. A caller needs write permission, and
   * one other than root clears S_ISUID/S_ISGID as a write does.
   */
  truncate(inode: number, size: number, chunkSizeBytes: number, caller: Caller | undefined, timeUs: number): number {
    const row = this.fileRow(inode);
    if (caller !== undefined) requirePermission(this.owned(row), caller, MAY_WRITE, `inode ${inode}`);
    if (!(size <= fileSizeMax(chunkSizeBytes))) throw tooLarge(size, chunkSizeBytes);
    const keep = Math.ceil(size / chunkSizeBytes);
    const list = this.inodes.chunkList(row);
    if (list.length > keep) {
      const kept = list.slice(0, keep);
      for (let index = keep; index < list.length; index++) if (list[index] !== 0) this.chunks.release(list[index]!);
      while (kept.length > 0 && kept[kept.length - 1] === 0) kept.pop();
      this.inodes.setChunks(row, kept);
    }
    this.inodes.setSize(row, size);
    if (caller !== undefined) this.inodes.setMode(row, modeAfterWrite(this.owned(row), caller));
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

  /**
   * Makes the bytes up to `endOffset` part of the file: a data write, which
   * sets mtime and ctime, and, by a caller other than root, clears
   * S_ISUID/S_ISGID (file_remove_privs). `writtenAtUs` is when the bytes were
   * written (the writer's clock, carried in the entry), which may precede a
   * later change that already moved ctime: ctime never goes back.
   */
  commitWrite(inode: number, endOffset: number, chunkSizeBytes: number, caller: Caller | undefined, writtenAtUs: number): number {
    const row = this.fileRow(inode);
    if (!(endOffset <= fileSizeMax(chunkSizeBytes))) throw tooLarge(endOffset, chunkSizeBytes);
    if (endOffset > this.inodes.size(row)) this.inodes.setSize(row, endOffset);
    if (caller !== undefined) this.inodes.setMode(row, modeAfterWrite(this.owned(row), caller));
    this.inodes.setMtimeUs(row, writtenAtUs);
    this.inodes.setCtimeUs(row, Math.max(this.inodes.ctimeUs(row), writtenAtUs));
    return row;
  }

  // ----- trash -----

  /**
   * Destroys the trash entries deleted before `deletedBeforeUs`: their
   * inodes go, their chunks are released. An inode that still has links
   * elsewhere (hard-linked out of a trashed subtree) loses one and stays.
   */
  purgeTrash(deletedBeforeUs: number): { inodes: number; chunks: number } {
    const inodes = this.inodes;
    let removed = 0;
    let chunks = 0;
    const kept: TrashEntry[] = [];
    for (const entry of this.trashEntries) {
      if (entry.deletedAtUs >= deletedBeforeUs) {
        kept.push(entry);
        continue;
      }
      // A directory entry's target, or the trash entry's own inode (which no entry names).
      const stack: { id: InodeId; viaEntry: boolean }[] = [{ id: entry.inode, viaEntry: false }];
      for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
        const row = inodes.rowOf(next.id);
        if (row === -1) broken(`trash holds missing inode ${next.id}`);
        if (inodes.isDirectory(row)) {
          const children = inodes.children(row);
          for (const child of children.values()) stack.push({ id: child, viaEntry: true });
          children.clear();
        } else {
          if (next.viaEntry) inodes.setNlink(row, inodes.nlink(row) - 1);
          if (inodes.nlink(row) > 0) continue;
          if (inodes.isFile(row)) for (const handle of inodes.chunkList(row)) if (handle !== 0 && this.chunks.release(handle)) chunks++;
        }
        inodes.remove(row);
        removed++;
      }
    }
    this.trashEntries = kept;
    return { inodes: removed, chunks };
  }

  /** Squeezes removed rows out of the tables. Rows move: call between entries only. */
  compact(): void {
    this.inodes.compact();
    this.chunks.compact();
  }

  /** Asserts the tree, links, trash, chunk references and counters (namespace-invariants.ts). O(state). */
  checkInvariants(chunkSizeBytes: number): void {
    checkNamespace(this.inodes, this.chunks, this.trashEntries, { ...this.counters, chunkSizeBytes });
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
   * (nlink and parents come from the snapshot). `name` must own its
   * characters: one decoded from bytes does, a slice of a longer string does not.
   */
  restoreEntry(dirRow: number, name: string, child: InodeId): void {
    this.inodes.children(dirRow).set(name, child);
  }

  // ----- internals: lookups -----

  private rootRow(): number {
    return this.inodes.rowOf(ROOT_INODE);
  }

  private owned(row: number): Owned {
    const inodes = this.inodes;
    return { kind: inodes.kind(row), mode: inodes.mode(row), uid: inodes.uid(row), gid: inodes.gid(row) };
  }

  /** With a caller, the directory at `row` must grant it search (x) before a name is looked up in it. */
  private search(row: number, caller: Caller | undefined, what: string): void {
    if (caller !== undefined) requirePermission(this.owned(row), caller, MAY_EXEC, what || '/');
  }

  /** The directory that holds the last component of `parts`, searched as a path walk searches. */
  private resolveParent(parts: readonly string[], caller: Caller | undefined): number {
    let row = this.rootRow();
    for (let depth = 0; depth < parts.length - 1; depth++) {
      this.search(row, caller, joinPath(parts.slice(0, depth)));
      row = this.rowOfChild(row, parts, depth);
      if (!this.inodes.isDirectory(row)) throw notADirectory(parts, depth);
    }
    this.search(row, caller, joinPath(parts.slice(0, parts.length - 1)));
    return row;
  }

  private rowOfChild(dirRow: number, parts: readonly string[], depth: number): number {
    const child = this.inodes.children(dirRow).get(parts[depth]!);
    if (child === undefined) throw errors.notFound(joinPath(parts.slice(0, depth + 1)));
    return this.inodes.rowOf(child);
  }

  /**
   * The directory `inode` about to have a name looked up in it: it must
   * exist, be a directory, grant the caller search, and not be deleted
   * (a deleted directory is empty to every lookup, as in Linux).
   */
  private parentDir(inode: number, caller: Caller | undefined): number {
    const row = this.inodeRow(inode);
    if (!this.inodes.isDirectory(row)) throw new DfsError('NOT_A_DIRECTORY', `inode ${inode} is not a directory`);
    this.search(row, caller, `inode ${inode}`);
    if (!this.isLive(row)) throw errors.notFound(`inode ${inode} (a deleted directory)`);
    return row;
  }

  /** Whether the directory at `row` hangs under the root (rather than under a trash entry). */
  private isLive(row: number): boolean {
    const inodes = this.inodes;
    let id: number = inodes.id(row);
    for (let steps = 0; id !== ROOT_INODE; steps++) {
      const parent = inodes.children(inodes.rowOf(id)).parent;
      if (parent === 0) return false;
      if (steps > inodes.count) broken(`directory ${inodes.id(row)} has a cycle of parents`);
      id = parent;
    }
    return true;
  }

  /** Whether the directory `ancestorRow` is `row` or holds it, at any depth. */
  private isAncestorOrSelf(ancestorRow: number, row: number): boolean {
    const inodes = this.inodes;
    const ancestor = inodes.id(ancestorRow);
    let id: number = inodes.id(row);
    for (let steps = 0; id !== 0; steps++) {
      if (id === ancestor) return true;
      if (steps > inodes.count) broken(`directory ${inodes.id(row)} has a cycle of parents`);
      id = inodes.children(inodes.rowOf(id)).parent;
    }
    return false;
  }

  /** The row of a regular file: the only kind with data. */
  private fileRow(inode: number): number {
    const row = this.inodeRow(inode);
    if (this.inodes.isFile(row)) return row;
    if (this.inodes.isDirectory(row)) throw new DfsError('IS_A_DIRECTORY', `inode ${inode} is a directory`);
    throw errors.invalid(`inode ${inode} is a ${this.inodes.kind(row)}, not a regular file`);
  }

  private page(row: number, startAfter: string, limit: number): ListPage {
    const max = limit === 0 ? LIMITS.listPageMax : Math.min(limit, LIMITS.listPageMax);
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

  // ----- internals: changes -----

  /**
   * Makes `name` in the (live, searched) directory `dirRow`, in Linux's order
   * of checks: an existing name (a file without O_EXCL opens it), write and
   * search on the directory, then a device needs root (CAP_MKNOD).
   */
  private makeNode(dirRow: number, name: string, spec: NodeSpec, caller: Caller | undefined, timeUs: number, where: string): number {
    const existing = this.inodes.children(dirRow).get(name);
    if (existing !== undefined) {
      const row = this.inodes.rowOf(existing);
      if (spec.kind !== 'file' || spec.exclusive) throw errors.exists(where);
      if (this.inodes.isDirectory(row)) throw new DfsError('IS_A_DIRECTORY', `${where} is a directory`);
      return row;
    }
    let owner = { uid: spec.uid, gid: spec.gid, mode: spec.mode };
    if (caller !== undefined) {
      const dir = this.owned(dirRow);
      requirePermission(dir, caller, MAY_WRITE | MAY_EXEC, where);
      if (isDevice(spec.kind) && !isRoot(caller)) throw new DfsError('NOT_PERMITTED', `${where}: only root may make a device`);
      owner = newOwnership(dir, caller, spec.kind, spec.mode, spec.uid, spec.gid, where);
    }
    if (spec.kind === 'file' && !(spec.replication >= 1 && spec.replication <= LIMITS.replicationMax)) broken(`unresolved replication ${spec.replication}`);
    const id = this.nextInodeId++ as InodeId;
    assert(Number.isSafeInteger(id), 'inode ids exhausted');
    const row = this.inodes.add({
      id,
      kind: spec.kind,
      mode: spec.kind === 'symlink' ? 0o777 : owner.mode & 0o7777,
      uid: owner.uid,
      gid: owner.gid,
      timeUs,
      replication: spec.kind === 'file' ? spec.replication : 0,
      replicateAll: spec.kind === 'file' && spec.replicateAll,
      parent: this.inodes.id(dirRow),
      ...(spec.kind === 'symlink' ? { target: ownedName(spec.target ?? broken('a symlink without a target')) } : {}),
      ...(isDevice(spec.kind) ? { rdev: spec.rdev ?? 0 } : {}),
    });
    this.linkEntry(dirRow, name, row, timeUs);
    return row;
  }

  /**
   * Removes `name` from the (live, searched) directory `dirRow`, in Linux's
   * order of checks (may_delete): the entry exists; write and search on the
   * directory; the sticky rule; the kind (unlink of a directory, rmdir of
   * anything else); then an rmdir'd directory must be empty.
   */
  private removeEntry(dirRow: number, name: string, mode: RemoveMode, caller: Caller | undefined, timeUs: number, where: string): void {
    const child = this.inodes.children(dirRow).get(name);
    if (child === undefined) throw errors.notFound(where);
    const row = this.inodes.rowOf(child);
    if (caller !== undefined) {
      const dir = this.owned(dirRow);
      requirePermission(dir, caller, MAY_WRITE | MAY_EXEC, where);
      requireStickyAllows(dir, this.owned(row), caller, where);
    }
    const directory = this.inodes.isDirectory(row);
    if (mode === 'unlink' && directory) throw new DfsError('IS_A_DIRECTORY', `${where} is a directory`);
    if (mode === 'rmdir' && !directory) throw new DfsError('NOT_A_DIRECTORY', `${where} is not a directory`);
    if (directory && mode !== 'recursive' && this.inodes.children(row).size > 0) throw new DfsError('NOT_EMPTY', `${where} is not empty`);
    if (directory && mode === 'recursive' && caller !== undefined && !isRoot(caller)) this.requireSubtreeRemovable(row, caller, where);
    this.unlinkEntry(dirRow, name, row, timeUs, where);
  }

  /**
   * What `rm -r` would need, entry by entry, before the subtree goes whole:
   * search, read and write on every non-empty directory in it, and the
   * sticky rule for each of their entries. Only for callers other than root.
   */
  private requireSubtreeRemovable(top: number, caller: Caller, where: string): void {
    const stack = [top];
    for (let row = stack.pop(); row !== undefined; row = stack.pop()) {
      const children = this.inodes.children(row);
      if (children.size === 0) continue;
      const dir = this.owned(row);
      const what = `${where} (inode ${this.inodes.id(row)})`;
      requirePermission(dir, caller, MAY_READ | MAY_WRITE | MAY_EXEC, what);
      for (const child of children.values()) {
        const childRow = this.inodes.rowOf(child);
        requireStickyAllows(dir, this.owned(childRow), caller, what);
        if (this.inodes.isDirectory(childRow)) stack.push(childRow);
      }
    }
  }

  /**
   * renameat2(2) in Linux's order of checks: the source exists; the new name
   * exists (NOREPLACE) or not (EXCHANGE); neither moves a directory under
   * itself (lock_rename's trap); the same inode under both names is a
   * success that changes nothing; may_delete of the source and may_create or
   * may_delete at the new name (permission, sticky, kinds); write on a
   * directory that changes parent (its ".."); a replaced directory is empty.
   */
  private renameEntry(
    fromDir: number,
    fromName: string,
    toDir: number,
    toName: string,
    flags: RenameFlags,
    caller: Caller | undefined,
    timeUs: number,
    where: { from: string; to: string },
  ): void {
    const inodes = this.inodes;
    if (flags.noReplace && flags.exchange) throw errors.invalid('RENAME_NOREPLACE and RENAME_EXCHANGE exclude each other');
    const source = inodes.children(fromDir).get(fromName);
    if (source === undefined) throw errors.notFound(where.from);
    const row = inodes.rowOf(source);
    const target = inodes.children(toDir).get(toName);
    if (target !== undefined && flags.noReplace) throw errors.exists(where.to);
    if (target === undefined && flags.exchange) throw errors.notFound(where.to);
    const targetRow = target === undefined ? -1 : inodes.rowOf(target);
    const directory = inodes.isDirectory(row);
    const targetDirectory = targetRow !== -1 && inodes.isDirectory(targetRow);
    if (directory && this.isAncestorOrSelf(row, toDir)) throw errors.invalid(`cannot move ${where.from} into itself (${where.to})`);
    if (targetDirectory && this.isAncestorOrSelf(targetRow, fromDir)) {
      if (flags.exchange) throw errors.invalid(`cannot move ${where.to} into itself (${where.from})`);
      throw new DfsError('NOT_EMPTY', `${where.to} is not empty: it holds ${where.from}`);
    }
    if (source === target) return;
    if (caller !== undefined) {
      const fromOwned = this.owned(fromDir);
      const toOwned = this.owned(toDir);
      requirePermission(fromOwned, caller, MAY_WRITE | MAY_EXEC, where.from);
      requireStickyAllows(fromOwned, this.owned(row), caller, where.from);
      requirePermission(toOwned, caller, MAY_WRITE | MAY_EXEC, where.to);
      if (targetRow !== -1) requireStickyAllows(toOwned, this.owned(targetRow), caller, where.to);
    }
    if (!flags.exchange && targetRow !== -1) {
      if (directory && !targetDirectory) throw new DfsError('NOT_A_DIRECTORY', `${where.to} is not a directory`);
      if (!directory && targetDirectory) throw new DfsError('IS_A_DIRECTORY', `${where.to} is a directory`);
    }
    if (caller !== undefined && fromDir !== toDir) {
      if (directory) requirePermission(this.owned(row), caller, MAY_WRITE, where.from);
      if (flags.exchange && targetDirectory) requirePermission(this.owned(targetRow), caller, MAY_WRITE, where.to);
    }
    if (!flags.exchange && targetDirectory && inodes.children(targetRow).size > 0) throw new DfsError('NOT_EMPTY', `${where.to} is not empty`);
    // Nothing below can fail.
    if (flags.exchange) {
      inodes.children(fromDir).set(fromName, target!);
      inodes.children(toDir).set(toName, source);
      if (fromDir !== toDir) {
        if (directory) this.reparent(row, fromDir, toDir);
        if (targetDirectory) this.reparent(targetRow, toDir, fromDir);
      }
      inodes.setCtimeUs(targetRow, timeUs);
    } else {
      if (targetRow !== -1) this.unlinkEntry(toDir, toName, targetRow, timeUs, where.to);
      inodes.children(fromDir).delete(fromName);
      inodes.children(toDir).set(ownedName(toName), source);
      if (directory && fromDir !== toDir) this.reparent(row, fromDir, toDir);
    }
    inodes.setCtimeUs(row, timeUs);
    inodes.touch(fromDir, timeUs);
    inodes.touch(toDir, timeUs);
    this.listCache = undefined;
  }

  /** A directory's entry moved from `fromDir` to `toDir`: its ".." and the parents' link counts follow. */
  private reparent(row: number, fromDir: number, toDir: number): void {
    const inodes = this.inodes;
    inodes.children(row).parent = inodes.id(toDir);
    inodes.setNlink(fromDir, inodes.nlink(fromDir) - 1);
    inodes.setNlink(toDir, inodes.nlink(toDir) + 1);
  }

  /** Adds entry `name` -> `row` to a directory: the inode gains a link, the directory new times. */
  private linkEntry(dirRow: number, name: string, row: number, timeUs: number): void {
    const inodes = this.inodes;
    const children = inodes.children(dirRow);
    if (children.has(name)) broken(`linking over existing entry ${name}`);
    children.set(ownedName(name), inodes.id(row));
    if (inodes.isDirectory(row)) inodes.setNlink(dirRow, inodes.nlink(dirRow) + 1);
    else inodes.setNlink(row, inodes.nlink(row) + 1);
    inodes.touch(dirRow, timeUs);
    this.listCache = undefined;
  }

  /**
   * Removes entry `name` -> `row` from a directory. A directory, and a
   * non-directory that loses its last link, go to the trash.
   */
  private unlinkEntry(dirRow: number, name: string, row: number, timeUs: number, where: string): void {
    const inodes = this.inodes;
    if (!inodes.children(dirRow).delete(name)) broken(`unlinking missing entry ${name}`);
    let trashed = true;
    if (inodes.isDirectory(row)) {
      inodes.children(row).parent = 0;
      inodes.setNlink(dirRow, inodes.nlink(dirRow) - 1);
    } else {
      const nlink = inodes.nlink(row) - 1;
      inodes.setNlink(row, nlink);
      inodes.setCtimeUs(row, timeUs);
      trashed = nlink === 0;
    }
    if (trashed) this.trashEntries.push({ inode: inodes.id(row), originalPath: where, deletedAtUs: timeUs });
    inodes.touch(dirRow, timeUs);
    this.listCache = undefined;
  }
}

/** Bytes in the largest file: LIMITS.chunksPerFileMax chunks. */
export function fileSizeMax(chunkSizeBytes: number): number {
  return LIMITS.chunksPerFileMax * chunkSizeBytes;
}

/**
 * A copy of a name that owns its characters. split() returns slices that keep
 * the whole path string alive, so a stored key could pin up to 4 KiB.
 */
function ownedName(name: string): string {
  return Buffer.from(name, 'utf8').toString('utf8');
}

function entryName(parent: number, name: string): string {
  return `@${parent}/${name}`;
}

function checkPage(startAfter: string, limit: number): void {
  if (typeof startAfter !== 'string') throw errors.invalid('startAfter must be a string');
  if (!Number.isSafeInteger(limit) || limit < 0) throw errors.invalid(`bad list limit ${limit}`);
}

function notADirectory(parts: readonly string[], depth: number): DfsError {
  return new DfsError('NOT_A_DIRECTORY', `${joinPath(parts.slice(0, depth + 1))} is not a directory`);
}

function tooLarge(size: number, chunkSizeBytes: number): DfsError {
  return new DfsError('TOO_LARGE', `size ${size} is past the file size limit of ${fileSizeMax(chunkSizeBytes)} bytes`);
}
