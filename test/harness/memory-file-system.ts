/**
 * An in-memory FileSystem for the FUSE session's tests: enough POSIX to run
 * coreutils on a real mount, plus counters the tests assert on (largest
 * write seen, requests served). Permission checks are the kernel's
 * (default_permissions); this only stores what it is told.
 */
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { errors } from '../../common/errors.js';
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
  type InodeAttr,
  type OpenReply,
  type RequestContext,
  type StatfsReply,
  type TimeSetting,
} from '../../fuse/file-system.js';

const { EEXIST, EINVAL, EISDIR, ENOTDIR, ENOTEMPTY, EBADF } = osConstants.errno;
const { O_TRUNC, O_EXCL, S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = fsConstants;
const ROOT = 1;
/** Entries one readdir call hands back; the session packs what fits and asks again. */
const READDIR_BATCH = 512;
/** Directory cookies 1 and 2 are "." and ".."; children's start after them. */
const FIRST_CHILD_COOKIE = 3;
/** What a discarding file system reads back: one FUSE read's worth. */
const ZEROS = Buffer.alloc(1024 * 1024);

export interface MemoryFileSystemOptions {
  /** Count written bytes but keep none, and read zeros (throughput tests). */
  discardWrites?: boolean;
  attrTimeoutMs?: number;
  entryTimeoutMs?: number;
}

interface Inode {
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Regular files: contents in [0, size), capacity beyond. */
  data: Buffer;
  /** Symlinks. */
  target: string;
  /** Directories: name -> child and the cookie that resumes a listing after it. */
  entries: Map<string, { ino: number; cookie: number }> | undefined;
  parent: number;
  /** References the kernel holds (lookup replies minus forgets). */
  lookups: number;
  openHandles: number;
}

export interface MemoryFileSystemStats {
  requests: number;
  writes: number;
  bytesWritten: number;
  maxWriteBytes: number;
  bytesRead: number;
  forgets: number;
}

export class MemoryFileSystem implements FileSystem {
  readonly stats: MemoryFileSystemStats = { requests: 0, writes: 0, bytesWritten: 0, maxWriteBytes: 0, bytesRead: 0, forgets: 0 };
  destroyed = false;

  private readonly inodes = new Map<number, Inode>();
  private readonly handles = new Map<number, number>();
  private nextIno = ROOT + 1;
  private nextFh = 1;
  private nextCookie = FIRST_CHILD_COOKIE;
  private readonly attrTimeoutMs: number;
  private readonly entryTimeoutMs: number;
  private readonly discardWrites: boolean;

  constructor(options: MemoryFileSystemOptions = {}) {
    this.attrTimeoutMs = options.attrTimeoutMs ?? 1000;
    this.entryTimeoutMs = options.entryTimeoutMs ?? 1000;
    this.discardWrites = options.discardWrites ?? false;
    const root = this.newInode(S_IFDIR | 0o755, { uid: 0, gid: 0, pid: 0 }, ROOT);
    this.inodes.set(ROOT, root);
    root.nlink = 2;
  }

  async lookup(_ctx: RequestContext, parent: number, name: string): Promise<EntryReply> {
    this.stats.requests++;
    const child = this.dir(parent).get(name);
    // A DfsError on purpose: the session maps its string errno ('ENOENT').
    if (child === undefined) throw errors.notFound(name);
    return this.entry(this.node(child.ino));
  }

  forget(ino: number, nlookup: number): void {
    this.stats.forgets++;
    const node = this.inodes.get(ino);
    if (node === undefined) return;
    node.lookups -= nlookup;
    this.maybeFree(node);
  }

  async getattr(_ctx: RequestContext, ino: number): Promise<AttrReply> {
    this.stats.requests++;
    return { attr: this.attr(this.node(ino)), attrTimeoutMs: this.attrTimeoutMs };
  }

  async setattr(_ctx: RequestContext, ino: number, changes: AttrChanges): Promise<AttrReply> {
    this.stats.requests++;
    const node = this.node(ino);
    const now = Date.now();
    if (changes.mode !== undefined) node.mode = (node.mode & S_IFMT) | (changes.mode & 0o7777);
    if (changes.uid !== undefined) node.uid = changes.uid;
    if (changes.gid !== undefined) node.gid = changes.gid;
    if (changes.size !== undefined) {
      if ((node.mode & S_IFMT) === S_IFDIR) throw new FuseError(EISDIR);
      this.resize(node, changes.size);
      node.mtimeMs = now;
    }
    if (changes.atime !== undefined) node.atimeMs = timeOf(changes.atime, now);
    if (changes.mtime !== undefined) node.mtimeMs = timeOf(changes.mtime, now);
    node.ctimeMs = now;
    return { attr: this.attr(node), attrTimeoutMs: this.attrTimeoutMs };
  }

  async readlink(_ctx: RequestContext, ino: number): Promise<string> {
    this.stats.requests++;
    const node = this.node(ino);
    if ((node.mode & S_IFMT) !== S_IFLNK) throw new FuseError(EINVAL);
    return node.target;
  }

  async mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Promise<EntryReply> {
    this.stats.requests++;
    const node = this.attach(parent, name, this.newInode(mode, ctx, parent));
    node.rdev = rdev;
    return this.entry(node);
  }

  async mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Promise<EntryReply> {
    this.stats.requests++;
    const node = this.attach(parent, name, this.newInode(S_IFDIR | (mode & 0o7777), ctx, parent));
    node.nlink = 2;
    this.node(parent).nlink++;
    return this.entry(node);
  }

  async unlink(_ctx: RequestContext, parent: number, name: string): Promise<void> {
    this.stats.requests++;
    this.unlinkName(parent, name);
  }

  async rmdir(_ctx: RequestContext, parent: number, name: string): Promise<void> {
    this.stats.requests++;
    const child = this.dir(parent).get(name);
    if (child === undefined) throw errors.notFound(name);
    if (this.dir(child.ino).size > 0) throw new FuseError(ENOTEMPTY);
    this.unlinkName(parent, name);
  }

  async symlink(ctx: RequestContext, parent: number, name: string, target: string): Promise<EntryReply> {
    this.stats.requests++;
    const node = this.newInode(S_IFLNK | 0o777, ctx, parent);
    node.target = target;
    node.size = Buffer.byteLength(target);
    return this.entry(this.attach(parent, name, node));
  }

  async rename(_ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    this.stats.requests++;
    const from = this.dir(parent);
    const to = this.dir(newParent);
    const moving = from.get(name);
    if (moving === undefined) throw errors.notFound(name);
    const replaced = to.get(newName);
    const now = Date.now();
    if (flags & RENAME_EXCHANGE) {
      if (replaced === undefined) throw errors.notFound(newName);
      from.set(name, { ino: replaced.ino, cookie: this.nextCookie++ });
      to.set(newName, { ino: moving.ino, cookie: this.nextCookie++ });
      this.reparent(this.node(replaced.ino), parent);
      this.reparent(this.node(moving.ino), newParent);
      return;
    }
    if (replaced !== undefined) {
      if (flags & RENAME_NOREPLACE) throw errors.exists(newName);
      const movingIsDir = (this.node(moving.ino).mode & S_IFMT) === S_IFDIR;
      const replacedNode = this.node(replaced.ino);
      const replacedIsDir = (replacedNode.mode & S_IFMT) === S_IFDIR;
      if (replacedIsDir && !movingIsDir) throw new FuseError(EISDIR);
      if (!replacedIsDir && movingIsDir) throw new FuseError(ENOTDIR);
      if (replacedIsDir && this.dir(replaced.ino).size > 0) throw new FuseError(ENOTEMPTY);
      this.unlinkName(newParent, newName);
    }
    from.delete(name);
    to.set(newName, { ino: moving.ino, cookie: this.nextCookie++ });
    this.reparent(this.node(moving.ino), newParent);
    this.node(parent).mtimeMs = now;
    this.node(newParent).mtimeMs = now;
  }

  async link(_ctx: RequestContext, ino: number, newParent: number, newName: string): Promise<EntryReply> {
    this.stats.requests++;
    const node = this.node(ino);
    this.attach(newParent, newName, node);
    node.nlink++;
    node.ctimeMs = Date.now();
    return this.entry(node);
  }

  async open(_ctx: RequestContext, ino: number, flags: number): Promise<OpenReply> {
    this.stats.requests++;
    const node = this.node(ino);
    // FUSE_ATOMIC_O_TRUNC: the truncation of open(O_TRUNC) is ours.
    if (flags & O_TRUNC && (node.mode & S_IFMT) === S_IFREG) {
      this.resize(node, 0);
      node.mtimeMs = node.ctimeMs = Date.now();
    }
    return { fh: this.openHandle(node) };
  }

  async read(_ctx: RequestContext, ino: number, fh: number, offset: number, size: number): Promise<Buffer> {
    this.stats.requests++;
    const node = this.handleNode(ino, fh);
    const end = Math.min(node.size, offset + size);
    const length = Math.max(0, end - offset);
    this.stats.bytesRead += length;
    // Without contents, a file reads as zeros (sizes come from writes or truncate).
    if (this.discardWrites) return length <= ZEROS.length ? ZEROS.subarray(0, length) : Buffer.alloc(length);
    // A view: the session writes it to the kernel before anything can change it.
    return node.data.subarray(offset, offset + length);
  }

  async write(_ctx: RequestContext, ino: number, fh: number, offset: number, data: Buffer): Promise<number> {
    this.stats.requests++;
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
    this.stats.maxWriteBytes = Math.max(this.stats.maxWriteBytes, data.length);
    const node = this.handleNode(ino, fh);
    const end = offset + data.length;
    if (this.discardWrites) {
      node.size = Math.max(node.size, end);
    } else {
      if (end > node.size) this.resize(node, end);
      data.copy(node.data, offset);
    }
    node.mtimeMs = node.ctimeMs = Date.now();
    return data.length;
  }

  async statfs(): Promise<StatfsReply> {
    this.stats.requests++;
    return { blocks: 1 << 20, bfree: 1 << 19, bavail: 1 << 19, files: 1 << 20, ffree: (1 << 20) - this.inodes.size, bsize: 4096, namelen: 255, frsize: 4096 };
  }

  async flush(): Promise<void> {
    this.stats.requests++;
  }

  async release(_ctx: RequestContext, ino: number, fh: number): Promise<void> {
    this.stats.requests++;
    this.closeHandle(ino, fh);
  }

  async fsync(): Promise<void> {
    this.stats.requests++;
  }

  async opendir(_ctx: RequestContext, ino: number): Promise<OpenReply> {
    this.stats.requests++;
    this.dir(ino);
    return { fh: this.openHandle(this.node(ino)) };
  }

  async readdir(_ctx: RequestContext, ino: number, _fh: number, offset: number): Promise<DirEntryOut[]> {
    this.stats.requests++;
    return this.listing(ino, offset).map(({ name, node, cookie }) => ({ name, ino: node.ino, type: node.mode & S_IFMT, nextOffset: cookie }));
  }

  async readdirplus(_ctx: RequestContext, ino: number, _fh: number, offset: number): Promise<DirEntryPlusOut[]> {
    this.stats.requests++;
    return this.listing(ino, offset).map(({ name, node, cookie }) => {
      // Each entry counts as a lookup, "." and ".." excepted (the session gives back those that do not fit).
      const entry = name === '.' || name === '..' ? this.entryWithoutLookup(node) : this.entry(node);
      return { name, ino: node.ino, type: node.mode & S_IFMT, nextOffset: cookie, entry };
    });
  }

  async releasedir(_ctx: RequestContext, ino: number, fh: number): Promise<void> {
    this.stats.requests++;
    this.closeHandle(ino, fh);
  }

  async access(): Promise<void> {
    this.stats.requests++;
  }

  async create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): Promise<CreateReply> {
    this.stats.requests++;
    const existing = this.dir(parent).get(name);
    let node: Inode;
    if (existing !== undefined) {
      if (flags & O_EXCL) throw new FuseError(EEXIST);
      node = this.node(existing.ino);
    } else {
      node = this.attach(parent, name, this.newInode(S_IFREG | (mode & 0o7777), ctx, parent));
    }
    return { ...this.entry(node), fh: this.openHandle(node) };
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
  }

  // ------------------------------------------------------------- internals

  private newInode(mode: number, ctx: RequestContext, parent: number): Inode {
    const now = Date.now();
    const ino = this.nextIno++;
    return {
      ino,
      mode,
      uid: ctx.uid,
      gid: ctx.gid,
      nlink: 1,
      rdev: 0,
      size: 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
      data: Buffer.alloc(0),
      target: '',
      entries: (mode & S_IFMT) === S_IFDIR ? new Map() : undefined,
      parent,
      lookups: 0,
      openHandles: 0,
    };
  }

  /** Puts `node` under `name` in `parent` (EEXIST if taken). */
  private attach(parent: number, name: string, node: Inode): Inode {
    const entries = this.dir(parent);
    if (entries.has(name)) throw errors.exists(name);
    this.inodes.set(node.ino, node);
    entries.set(name, { ino: node.ino, cookie: this.nextCookie++ });
    const dir = this.node(parent);
    dir.mtimeMs = dir.ctimeMs = Date.now();
    return node;
  }

  private unlinkName(parent: number, name: string): void {
    const entries = this.dir(parent);
    const child = entries.get(name);
    if (child === undefined) throw errors.notFound(name);
    entries.delete(name);
    const node = this.node(child.ino);
    if ((node.mode & S_IFMT) === S_IFDIR) {
      node.nlink = 0;
      this.node(parent).nlink--;
    } else {
      node.nlink--;
    }
    node.ctimeMs = this.node(parent).mtimeMs = Date.now();
    this.maybeFree(node);
  }

  private reparent(node: Inode, newParent: number): void {
    if ((node.mode & S_IFMT) !== S_IFDIR || node.parent === newParent) return;
    this.node(node.parent).nlink--;
    this.node(newParent).nlink++;
    node.parent = newParent;
  }

  private maybeFree(node: Inode): void {
    if (node.ino !== ROOT && node.nlink <= 0 && node.lookups <= 0 && node.openHandles === 0) this.inodes.delete(node.ino);
  }

  private listing(ino: number, offset: number): Array<{ name: string; node: Inode; cookie: number }> {
    const dir = this.node(ino);
    const out: Array<{ name: string; node: Inode; cookie: number }> = [];
    if (offset < 1) out.push({ name: '.', node: dir, cookie: 1 });
    if (offset < 2) out.push({ name: '..', node: this.node(dir.parent), cookie: 2 });
    for (const [name, child] of this.dir(ino)) {
      if (out.length >= READDIR_BATCH) break;
      if (child.cookie > offset) out.push({ name, node: this.node(child.ino), cookie: child.cookie });
    }
    return out;
  }

  private openHandle(node: Inode): number {
    const fh = this.nextFh++;
    this.handles.set(fh, node.ino);
    node.openHandles++;
    return fh;
  }

  private closeHandle(ino: number, fh: number): void {
    if (this.handles.get(fh) !== ino) throw new FuseError(EBADF);
    this.handles.delete(fh);
    const node = this.node(ino);
    node.openHandles--;
    this.maybeFree(node);
  }

  private handleNode(ino: number, fh: number): Inode {
    if (this.handles.get(fh) !== ino) throw new FuseError(EBADF);
    return this.node(ino);
  }

  private resize(node: Inode, size: number): void {
    if (size > node.data.length) {
      const grown = Buffer.alloc(Math.max(size, node.data.length * 2));
      node.data.copy(grown, 0, 0, node.size);
      node.data = grown;
    } else if (size < node.size) {
      node.data.fill(0, size, node.size);
    }
    node.size = size;
  }

  private node(ino: number): Inode {
    const node = this.inodes.get(ino);
    if (node === undefined) throw errors.notFound(`inode ${ino}`);
    return node;
  }

  private dir(ino: number): Map<string, { ino: number; cookie: number }> {
    const entries = this.node(ino).entries;
    if (entries === undefined) throw new FuseError(ENOTDIR);
    return entries;
  }

  private attr(node: Inode): InodeAttr {
    return {
      ino: node.ino,
      size: node.size,
      blocks: this.discardWrites ? 0 : Math.ceil(node.size / 512),
      atimeMs: node.atimeMs,
      mtimeMs: node.mtimeMs,
      ctimeMs: node.ctimeMs,
      mode: node.mode,
      nlink: node.nlink,
      uid: node.uid,
      gid: node.gid,
      rdev: node.rdev,
      blksize: 4096,
    };
  }

  /** An entry reply: the kernel now holds one more reference to the inode. */
  private entry(node: Inode): EntryReply {
    node.lookups++;
    return this.entryWithoutLookup(node);
  }

  private entryWithoutLookup(node: Inode): EntryReply {
    return { attr: this.attr(node), attrTimeoutMs: this.attrTimeoutMs, entryTimeoutMs: this.entryTimeoutMs };
  }
}

function timeOf(setting: TimeSetting, now: number): number {
  return setting === 'now' ? now : setting;
}
