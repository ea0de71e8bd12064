/**
 * The contract between the kernel session (`fuse-session.ts`, which speaks
 * the FUSE protocol on /dev/fuse) and a file system that serves it
 * (`dfs-file-system.ts`). It is the FUSE low-level API in TypeScript: inode
 * numbers are the file system's own (the kernel's nodeid), 1 is the root.
 *
 * A method fails by throwing; the session answers the kernel with
 * `errnoOf(err)` (a FuseError's errno, a DfsError's mapped errno, else EIO).
 */

/** Who asked: from the request header the kernel fills in. */
export interface RequestContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/**
 * What the kernel caches about an inode. `mode` includes the type bits (S_IFREG, S_IFDIR, ...).
 * Times are milliseconds since the epoch kept to the microsecond (the session's granularity).
 */
export interface InodeAttr {
  readonly ino: number;
  readonly size: number;
  /** 512-byte blocks allocated. */
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Device number of a character or block special file, else 0. */
  readonly rdev: number;
  readonly blksize: number;
}

export interface AttrReply {
  readonly attr: InodeAttr;
  /** How long the kernel may trust `attr` without asking again. */
  readonly attrTimeoutMs: number;
}

export interface EntryReply extends AttrReply {
  /** How long the kernel may trust the name -> inode mapping. */
  readonly entryTimeoutMs: number;
}

export interface OpenReply {
  /** The file system's own handle, handed back on read/write/flush/release. */
  readonly fh: number;
  /** Keep the kernel's page cache from an earlier open (the file did not change). */
  readonly keepCache?: boolean;
  /** Bypass the page cache for this open file. */
  readonly directIo?: boolean;
}

export interface CreateReply extends EntryReply, OpenReply {}

/** Time to set: milliseconds since the epoch, or the file system's clock now. */
export type TimeSetting = number | 'now';

/** A setattr: only the fields present change. */
export interface AttrChanges {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly atime?: TimeSetting;
  readonly mtime?: TimeSetting;
  /** The open file the change came through (ftruncate, futimens), if any. */
  readonly fh?: number;
}

export interface DirEntryOut {
  readonly name: string;
  readonly ino: number;
  /** The type bits of the entry's mode (mode & S_IFMT). */
  readonly type: number;
  /** The cookie that resumes the listing after this entry (non-zero, increasing). */
  readonly nextOffset: number;
}

export interface DirEntryPlusOut extends DirEntryOut {
  readonly entry: EntryReply;
}

export interface StatfsReply {
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly bsize: number;
  readonly namelen: number;
  readonly frsize: number;
}

/** rename(2) flags (renameat2). */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export interface FileSystem {
  lookup(ctx: RequestContext, parent: number, name: string): Promise<EntryReply>;
  /** The kernel dropped `nlookup` references to `ino`. No reply. */
  forget(ino: number, nlookup: number): void;
  getattr(ctx: RequestContext, ino: number, fh: number | undefined): Promise<AttrReply>;
  setattr(ctx: RequestContext, ino: number, changes: AttrChanges): Promise<AttrReply>;
  readlink(ctx: RequestContext, ino: number): Promise<string>;
  /** `mode` carries the type bits (S_IFIFO, S_IFCHR, ...) and the permission bits, umask already applied by the kernel unless stated. */
  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number, umask: number): Promise<EntryReply>;
  mkdir(ctx: RequestContext, parent: number, name: string, mode: number, umask: number): Promise<EntryReply>;
  unlink(ctx: RequestContext, parent: number, name: string): Promise<void>;
  rmdir(ctx: RequestContext, parent: number, name: string): Promise<void>;
  symlink(ctx: RequestContext, parent: number, name: string, target: string): Promise<EntryReply>;
  rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void>;
  link(ctx: RequestContext, ino: number, newParent: number, newName: string): Promise<EntryReply>;
  /** `flags`: the open(2) flags (O_ACCMODE, O_APPEND, O_TRUNC, ...). */
  open(ctx: RequestContext, ino: number, flags: number): Promise<OpenReply>;
  /** Up to `size` bytes at `offset`; fewer only at end of file. */
  read(ctx: RequestContext, ino: number, fh: number, offset: number, size: number): Promise<Buffer>;
  /** `data` is only valid until the promise settles: copy what must outlive it. Returns the bytes written. */
  write(ctx: RequestContext, ino: number, fh: number, offset: number, data: Buffer): Promise<number>;
  statfs(ctx: RequestContext, ino: number): Promise<StatfsReply>;
  /** Every close(2) of a descriptor: the place for close-to-open consistency. */
  flush(ctx: RequestContext, ino: number, fh: number): Promise<void>;
  /** The last reference to the open file is gone. */
  release(ctx: RequestContext, ino: number, fh: number): Promise<void>;
  fsync(ctx: RequestContext, ino: number, fh: number, datasync: boolean): Promise<void>;
  opendir(ctx: RequestContext, ino: number, flags: number): Promise<OpenReply>;
  /** Entries after cookie `offset` (0: from the start). Returning more than fits is fine: the rest are asked for again. */
  readdir(ctx: RequestContext, ino: number, fh: number, offset: number): Promise<DirEntryOut[]>;
  readdirplus(ctx: RequestContext, ino: number, fh: number, offset: number): Promise<DirEntryPlusOut[]>;
  releasedir(ctx: RequestContext, ino: number, fh: number): Promise<void>;
  /** `mask`: R_OK | W_OK | X_OK, or F_OK (0). */
  access(ctx: RequestContext, ino: number, mask: number): Promise<void>;
  /** open(2) with O_CREAT on a missing name; `flags` as for open. */
  create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number, umask: number): Promise<CreateReply>;
  /** The mount is going away: write back what is buffered. */
  destroy(): Promise<void>;
}

/** A failure with a definite errno (positive, as in errno.h). */
export class FuseError extends Error {
  override name = 'FuseError';
  constructor(readonly errno: number, message?: string) {
    super(message ?? `errno ${errno}`);
  }
}
