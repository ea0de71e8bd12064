import { constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import type { Changed, DfsClient } from '../client-lib/dfs-client.js';
import type { DfsFile } from '../client-lib/dfs-file.js';
import type { Caller, DirEntry, FileAttr } from '../client-lib/types.js';
import { permits } from '../common/access.js';
import { BufferPool } from '../common/buffer-pool.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { checkName } from '../common/path.js';
import { kindOfMode, toInodeAttr, typeBits } from './attr-mapping.js';
import { CallerGroups } from './caller-groups.js';
import { FreshDirectories } from './fresh-directories.js';
import {
  FuseError,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  type AttrChanges,
  type AttrReply,
  type CreateReply,
  type DirEntryOut,
  type DirEntryPlusOut,
  type EntryReply,
  type FileSystem,
  type OpenReply,
  type RequestContext,
  type StatfsReply,
} from './file-system.js';
import { InodeWriter } from './inode-writer.js';
import { ReadAhead } from './read-ahead.js';

const { errno } = constants;
const { O_TRUNC, O_EXCL } = fsConstants;
/** relatime: an atime older than this is refreshed on read even if newer than mtime. */
const RELATIME_MAX_AGE_MS = 24 * 3600 * 1000;
const STATFS_CACHE_MS = 2_000;
/** Gather buffers kept for reuse between writes: as many as one writer has in flight at once, and a few writers more. */
const GATHER_BUFFERS_KEPT = 4;
/** The mount's own calls: data through descriptors the kernel allowed at open, and atime bookkeeping. */
const MOUNT_CALLER: Caller = { uid: 0, gid: 0, groups: [] };

export interface DfsMountOptions {
  /** How long the kernel trusts attributes and names; a short time keeps other nodes' changes visible. */
  readonly attrTimeoutMs: number;
  readonly entryTimeoutMs: number;
  /** st_blksize: the buffer size cp, cat and friends choose. */
  readonly blksize: number;
  readonly readAheadSegmentBytes: number;
  readonly readAheadSegments: number;
  readonly writeGatherBytes: number;
  readonly writeInFlightMaxBytes: number;
  /** relatime updates atime on a read after a change (and daily), as Linux does by default; noatime never. */
  readonly atime: 'relatime' | 'noatime';
}

export const DEFAULT_MOUNT_OPTIONS: DfsMountOptions = {
  attrTimeoutMs: 1_000,
  entryTimeoutMs: 1_000,
  blksize: 1024 * 1024,
  readAheadSegmentBytes: 4 * 1024 * 1024,
  readAheadSegments: 2,
  writeGatherBytes: 1024 * 1024,
  writeInFlightMaxBytes: 32 * 1024 * 1024,
  atime: 'relatime',
};

/** One inode with open files on this mount: its client-side file and write-back. */
interface OpenInode {
  readonly file: DfsFile;
  readonly writer: InodeWriter;
  opens: number;
  readonly handles: Set<FileHandle>;
}

interface FileHandle {
  readonly ino: number;
  readonly readAhead: ReadAhead;
  /** The attributes at open, for relatime; cleared once atime is judged. */
  openAttr: FileAttr | undefined;
}

interface DirHandle {
  readonly ino: number;
  readonly entries: DirEntry[];
  complete: boolean;
}

/** What a cached page of an inode was read at: unchanged means the kernel may keep its pages. */
interface PageStamp {
  readonly mtimeMs: number;
  readonly size: number;
}

/**
 * The cluster as a FUSE file system: kernel inode numbers are the master's
 * inode ids, every namespace call carries the caller's identity (the
 * master checks permissions too), writes go through per-inode write-back,
 * sequential reads through read-ahead.
 *
 * Consistency is close-to-open: close (flush) and fsync return only when
 * every replica holds the bytes durable and the master has the size; open
 * asks the master afresh and keeps the kernel's cached pages only if the
 * file is unchanged since they were read.
 */
export class DfsFileSystem implements FileSystem {
  private readonly inodes = new Map<number, OpenInode>();
  private readonly files = new Map<number, FileHandle>();
  private readonly dirs = new Map<number, DirHandle>();
  private readonly pageStamps = new Map<number, PageStamp>();
  private readonly callers = new CallerGroups();
  private readonly freshDirs: FreshDirectories;
  private readonly gatherBuffers: BufferPool;
  private nextHandle = 1;
  private statfsCache: { reply: StatfsReply; atMs: number } | undefined;

  constructor(
    private readonly client: DfsClient,
    private readonly options: DfsMountOptions,
    private readonly logger: Logger,
  ) {
    this.freshDirs = new FreshDirectories(options.attrTimeoutMs);
    this.gatherBuffers = new BufferPool(options.writeGatherBytes, GATHER_BUFFERS_KEPT);
  }

  // ----- names -----

  async lookup(ctx: RequestContext, parent: number, name: string): Promise<EntryReply> {
    checkName(name);
    return this.entry(await this.client.lookup(parent, name, await this.callers.callerOf(ctx)));
  }

  forget(): void {
    // Inode numbers are the master's: nothing here lives per kernel reference.
  }

  async getattr(_ctx: RequestContext, ino: number): Promise<AttrReply> {
    return this.attrReply(this.freshDirs.take(ino) ?? (await this.client.statInode(ino)));
  }

  async setattr(ctx: RequestContext, ino: number, changes: AttrChanges): Promise<AttrReply> {
    const caller = await this.callers.callerOf(ctx);
    this.freshDirs.forget(ino);
    const open = this.inodes.get(ino);
    if (changes.size !== undefined) {
      if (open !== undefined) {
        await open.writer.truncate(changes.size);
        this.invalidateReads(open);
      } else {
        const file = await this.client.openInode(ino, MOUNT_CALLER);
        try {
          await file.truncate(changes.size);
        } finally {
          await file.close();
        }
      }
      this.pageStamps.delete(ino);
    }
    const timed = changes.atime !== undefined || changes.mtime !== undefined;
    // Data still on its way would stamp a later mtime over the one asked for (cp -p, rsync).
    if (timed && open !== undefined) await open.writer.sync();
    if (changes.mode === undefined && changes.uid === undefined && changes.gid === undefined && !timed) {
      if (changes.size !== undefined) return this.attrReply(await this.client.statInode(ino));
      // chown(f, -1, -1) and friends: nothing changes but ctime, as on Linux.
    }
    const attr = await this.client.setAttrInode(
      ino,
      {
        ...(changes.mode !== undefined ? { mode: changes.mode & 0o7777 } : {}),
        ...(changes.uid !== undefined ? { uid: changes.uid } : {}),
        ...(changes.gid !== undefined ? { gid: changes.gid } : {}),
        ...(changes.atime !== undefined ? { atimeMs: changes.atime } : {}),
        ...(changes.mtime !== undefined ? { mtimeMs: changes.mtime } : {}),
      },
      caller,
    );
    return this.attrReply(attr);
  }

  async readlink(_ctx: RequestContext, ino: number): Promise<string> {
    return this.client.readlink(ino);
  }

  async mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Promise<EntryReply> {
    checkName(name);
    const kind = kindOfMode(mode);
    if (kind === 'directory' || kind === 'symlink') throw new FuseError(errno.EINVAL, 'mknod cannot make a directory or symlink');
    const caller = await this.callers.callerOf(ctx);
    return this.madeIn(parent, await this.client.makeNodeIn(parent, name, { kind, mode: mode & 0o7777, rdev, exclusive: true }, caller));
  }

  async mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Promise<EntryReply> {
    checkName(name);
    const caller = await this.callers.callerOf(ctx);
    return this.madeIn(parent, await this.client.makeNodeIn(parent, name, { kind: 'directory', mode: mode & 0o7777 }, caller));
  }

  async unlink(ctx: RequestContext, parent: number, name: string): Promise<void> {
    checkName(name);
    this.noteDir(parent, await this.client.remove(parent, name, { directory: false }, await this.callers.callerOf(ctx)));
  }

  async rmdir(ctx: RequestContext, parent: number, name: string): Promise<void> {
    checkName(name);
    this.noteDir(parent, await this.client.remove(parent, name, { directory: true }, await this.callers.callerOf(ctx)));
  }

  async symlink(ctx: RequestContext, parent: number, name: string, target: string): Promise<EntryReply> {
    checkName(name);
    const caller = await this.callers.callerOf(ctx);
    return this.madeIn(parent, await this.client.makeNodeIn(parent, name, { kind: 'symlink', mode: 0o777, target }, caller));
  }

  async rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    checkName(name);
    checkName(newName);
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0) throw new FuseError(errno.EINVAL, `rename flags ${flags}`);
    await this.client.renameAt(
      parent,
      name,
      newParent,
      newName,
      { noReplace: (flags & RENAME_NOREPLACE) !== 0, exchange: (flags & RENAME_EXCHANGE) !== 0 },
      await this.callers.callerOf(ctx),
    );
    // No directory attributes come back, and a directory moved changes too: all are asked afresh.
    this.freshDirs.clear();
  }

  async link(ctx: RequestContext, ino: number, newParent: number, newName: string): Promise<EntryReply> {
    checkName(newName);
    return this.madeIn(newParent, await this.client.linkIn(ino, newParent, newName, await this.callers.callerOf(ctx)));
  }

  // ----- files -----

  async open(_ctx: RequestContext, ino: number, flags: number): Promise<OpenReply> {
    // Close-to-open: what another node closed before this open is seen.
    return this.openFresh(await this.client.statInode(ino), flags);
  }

  /** `created`: the master made the file for this open, so O_TRUNC has nothing to cut. */
  private async openFresh(fresh: FileAttr, flags: number, created = false): Promise<OpenReply> {
    let attr = fresh;
    const ino = attr.inode;
    if (attr.kind === 'directory') throw new FuseError(errno.EISDIR);
    if (attr.kind !== 'file') throw new FuseError(errno.ENXIO, 'special files are not served by the mount');
    const open = this.openInode(attr);
    try {
      // Linux truncates on O_TRUNC whatever the access mode (the kernel checked write permission).
      if ((flags & O_TRUNC) !== 0 && !(created && attr.size === 0)) {
        await open.writer.truncate(0);
        this.invalidateReads(open);
        attr = open.file.stat;
      }
    } catch (err) {
      await this.closeInode(ino, open);
      throw err;
    }
    const stamp = this.pageStamps.get(ino);
    const keepCache = stamp !== undefined && stamp.mtimeMs === attr.mtimeMs && stamp.size === attr.size;
    this.pageStamps.set(ino, { mtimeMs: attr.mtimeMs, size: attr.size });
    const fh = this.nextHandle++;
    const handle: FileHandle = {
      ino,
      readAhead: new ReadAhead((offset, length) => open.file.readParts(offset, length), {
        segmentBytes: this.options.readAheadSegmentBytes,
        segmentsAhead: this.options.readAheadSegments,
      }),
      openAttr: attr,
    };
    this.files.set(fh, handle);
    open.handles.add(handle);
    return { fh, keepCache };
  }

  async create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): Promise<CreateReply> {
    checkName(name);
    const caller = await this.callers.callerOf(ctx);
    const made = await this.client.makeNodeIn(parent, name, { kind: 'file', mode: mode & 0o7777, exclusive: (flags & O_EXCL) !== 0 }, caller);
    this.noteDir(parent, made.parent);
    const attr = made.attr;
    // A create that found a non-empty file already there (no O_EXCL, another node won the race) still truncates it.
    const opened = await this.openFresh(attr, flags, true);
    return { ...this.entry(attr), ...opened };
  }

  async read(_ctx: RequestContext, ino: number, fh: number, offset: number, size: number): Promise<Buffer> {
    const handle = this.fileHandle(fh);
    const open = this.inodes.get(ino)!;
    // Bytes written here but still on their way are not readable from the chunkservers yet.
    if (open.writer.dirty) await open.writer.sync();
    const data = await handle.readAhead.read(offset, size);
    this.judgeAtime(handle);
    return data;
  }

  async write(_ctx: RequestContext, ino: number, fh: number, offset: number, data: Buffer): Promise<number> {
    this.fileHandle(fh);
    const open = this.inodes.get(ino)!;
    this.invalidateReads(open);
    return open.writer.write(offset, data);
  }

  async flush(_ctx: RequestContext, ino: number, fh: number): Promise<void> {
    this.fileHandle(fh);
    await this.syncInode(ino);
  }

  async fsync(_ctx: RequestContext, ino: number, fh: number): Promise<void> {
    this.fileHandle(fh);
    await this.syncInode(ino);
  }

  async release(_ctx: RequestContext, ino: number, fh: number): Promise<void> {
    const handle = this.files.get(fh);
    if (handle === undefined) return;
    this.files.delete(fh);
    const open = this.inodes.get(ino);
    if (open === undefined) return;
    open.handles.delete(handle);
    await this.closeInode(ino, open);
  }

  async statfs(): Promise<StatfsReply> {
    const cached = this.statfsCache;
    if (cached !== undefined && performance.now() - cached.atMs < STATFS_CACHE_MS) return cached.reply;
    const servers = (await this.client.listChunkservers()).filter((s) => s.alive);
    let capacity = 0;
    let used = 0;
    for (const s of servers) {
      capacity += Number(s.capacityBytes);
      used += Number(s.usedBytes);
    }
    const bsize = this.options.blksize;
    const free = Math.max(0, capacity - used);
    const reply: StatfsReply = {
      bsize,
      frsize: bsize,
      blocks: Math.floor(capacity / bsize),
      bfree: Math.floor(free / bsize),
      bavail: Math.floor(free / bsize),
      // Inodes are not a fixed pool: only the master's memory bounds them.
      files: 2 ** 32,
      ffree: 2 ** 32 - 1,
      namelen: LIMITS.nameMaxBytes,
    };
    this.statfsCache = { reply, atMs: performance.now() };
    return reply;
  }

  // ----- directories -----

  async opendir(_ctx: RequestContext, ino: number): Promise<OpenReply> {
    const fh = this.nextHandle++;
    this.dirs.set(fh, { ino, entries: [], complete: false });
    return { fh };
  }

  async readdir(ctx: RequestContext, ino: number, fh: number, offset: number): Promise<DirEntryOut[]> {
    return (await this.listFrom(ctx, ino, fh, offset)).map(({ name, ino: child, type, nextOffset }) => ({ name, ino: child, type, nextOffset }));
  }

  async readdirplus(ctx: RequestContext, ino: number, fh: number, offset: number): Promise<DirEntryPlusOut[]> {
    return this.listFrom(ctx, ino, fh, offset);
  }

  async releasedir(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    this.dirs.delete(fh);
  }

  async access(ctx: RequestContext, ino: number, mask: number): Promise<void> {
    const attr = await this.client.statInode(ino);
    // R_OK, W_OK and X_OK are MAY_READ, MAY_WRITE and MAY_EXEC; F_OK (0) asks only that the inode exists.
    if (!permits(attr, await this.callers.callerOf(ctx), mask & 0o7)) throw new FuseError(errno.EACCES);
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.inodes.entries()].map(async ([ino, open]) => {
        try {
          await open.writer.sync();
        } catch (err) {
          this.logger.error({ ino, err: String(err) }, 'write-back lost at unmount');
        } finally {
          await open.file.close().catch(() => undefined);
        }
      }),
    );
    this.inodes.clear();
    this.files.clear();
  }

  // ----- helpers -----

  private async listFrom(ctx: RequestContext, ino: number, fh: number, offset: number): Promise<DirEntryPlusOut[]> {
    const dir = this.dirs.get(fh);
    if (dir === undefined || dir.ino !== ino) throw new FuseError(errno.EBADF);
    // Cookies: 1 is ".", 2 is "..", 3 + i follows entries[i].
    if (dir.entries.length === 0 && !dir.complete) await this.fetchPage(ctx, dir);
    const out: DirEntryPlusOut[] = [];
    if (offset < 2) {
      // The kernel takes neither "." nor ".." from a listing as a name to cache.
      const self = await this.client.statInode(ino);
      if (offset < 1) out.push(this.plus('.', self, 1));
      out.push(this.plus('..', self, 2));
    }
    let index = Math.max(0, offset - 2);
    while (index >= dir.entries.length && !dir.complete) await this.fetchPage(ctx, dir);
    for (; index < dir.entries.length; index++) {
      const e = dir.entries[index]!;
      out.push(this.plus(e.name, e.attr, index + 3));
    }
    return out;
  }

  private async fetchPage(ctx: RequestContext, dir: DirHandle): Promise<void> {
    const startAfter = dir.entries.length === 0 ? '' : dir.entries[dir.entries.length - 1]!.name;
    const page = await this.client.readDir(dir.ino, startAfter, 0, await this.callers.callerOf(ctx));
    dir.entries.push(...page.entries);
    if (!page.hasMore || page.entries.length === 0) dir.complete = true;
  }

  private plus(name: string, attr: FileAttr, nextOffset: number): DirEntryPlusOut {
    return { name, ino: attr.inode, type: typeBits(attr.kind), nextOffset, entry: this.entry(attr) };
  }

  /** The entry of what a change made, keeping the directory's attributes its reply carried. */
  private madeIn(parent: number, made: Changed): EntryReply {
    this.noteDir(parent, made.parent);
    return this.entry(made.attr);
  }

  /** Keeps `attr` for the kernel's next getattr of the directory; without it, the directory `changed` must be asked afresh. */
  private noteDir(changed: number, attr: FileAttr | undefined): void {
    if (attr !== undefined) this.freshDirs.note(attr);
    else this.freshDirs.forget(changed);
  }

  private entry(attr: FileAttr): EntryReply {
    return { ...this.attrReply(attr), entryTimeoutMs: this.options.entryTimeoutMs };
  }

  private attrReply(attr: FileAttr): AttrReply {
    const open = this.inodes.get(attr.inode);
    const shown = open === undefined ? attr : { ...attr, ...open.writer.overlay(attr.size, attr.mtimeMs, attr.ctimeMs) };
    return { attr: toInodeAttr(shown, this.options.blksize), attrTimeoutMs: this.options.attrTimeoutMs };
  }

  private fileHandle(fh: number): FileHandle {
    const handle = this.files.get(fh);
    if (handle === undefined) throw new FuseError(errno.EBADF);
    return handle;
  }

  /**
   * The inode's shared client-side file. Its data calls go as the mount
   * itself: the kernel checked permissions at open (default_permissions),
   * and an ftruncate through a descriptor must work whatever the mode became
   * since, as on Linux.
   */
  private openInode(attr: FileAttr): OpenInode {
    const existing = this.inodes.get(attr.inode);
    if (existing !== undefined) {
      existing.opens++;
      existing.file.observe(attr);
      return existing;
    }
    const file = this.client.openAttr(attr, MOUNT_CALLER);
    const open: OpenInode = {
      file,
      writer: new InodeWriter(file, {
        gatherBytes: this.options.writeGatherBytes,
        inFlightMaxBytes: this.options.writeInFlightMaxBytes,
        now: () => Date.now(),
        buffers: this.gatherBuffers,
      }),
      opens: 1,
      handles: new Set(),
    };
    this.inodes.set(attr.inode, open);
    return open;
  }

  private async closeInode(ino: number, open: OpenInode): Promise<void> {
    open.opens--;
    if (open.opens > 0) return;
    try {
      await this.syncOpen(ino, open);
    } catch (err) {
      // release has no one to report to: flush (close) already did if it could.
      this.logger.error({ ino, err: String(err) }, 'write-back failed at release');
    } finally {
      if (open.opens === 0 && this.inodes.get(ino) === open) {
        this.inodes.delete(ino);
        await open.file.close().catch((err: unknown) => this.logger.warn({ ino, err: String(err) }, 'closing a file failed'));
      }
    }
  }

  private async syncInode(ino: number): Promise<void> {
    const open = this.inodes.get(ino);
    if (open !== undefined) await this.syncOpen(ino, open);
  }

  private async syncOpen(ino: number, open: OpenInode): Promise<void> {
    if (!open.writer.dirty) return;
    await open.writer.sync();
    // The pages the kernel holds are what was just written: they stay valid.
    const attr = open.file.stat;
    this.pageStamps.set(ino, { mtimeMs: attr.mtimeMs, size: attr.size });
  }

  private invalidateReads(open: OpenInode): void {
    for (const handle of open.handles) handle.readAhead.invalidate();
  }

  /** relatime, judged once per open file on its first read. */
  private judgeAtime(handle: FileHandle): void {
    const attr = handle.openAttr;
    if (attr === undefined) return;
    handle.openAttr = undefined;
    if (this.options.atime === 'noatime') return;
    const now = Date.now();
    if (attr.atimeMs > attr.mtimeMs && attr.atimeMs > attr.ctimeMs && now - attr.atimeMs < RELATIME_MAX_AGE_MS) return;
    this.client.touchAtime(handle.ino).catch((err: unknown) => {
      this.logger.debug({ ino: handle.ino, err: String(err) }, 'atime update failed');
    });
  }
}


