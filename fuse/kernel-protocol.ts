/**
 * The FUSE kernel protocol as bytes: opcodes, flag bits, and the encoders and
 * decoders of the structs in <linux/fuse.h> (protocol 7.38, which is what this
 * module implements; newer kernels negotiate down to it). Pure: no I/O, no
 * clock. All integers are little-endian (the kernel's byte order on every
 * machine Node runs this on), and every struct is padded to 8 bytes.
 *
 * 64-bit fields travel as JS numbers, exact up to 2^53: node ids, handles and
 * cookies are the file system's own numbers, and an offset or size beyond
 * 2^53 fails the request with EOVERFLOW instead of being rounded.
 */
import { constants as osConstants } from 'node:os';
import { FuseError, type AttrChanges, type DirEntryOut, type DirEntryPlusOut, type EntryReply, type InodeAttr, type StatfsReply } from './file-system.js';

/** The protocol version this module speaks; the session uses min(this, kernel's). */
export const KERNEL_VERSION = 7;
export const KERNEL_MINOR_VERSION = 38;
/** Oldest minor with everything the session relies on (FUSE_MAX_PAGES, FUSE_RENAME2, 7.26+ struct sizes). */
export const KERNEL_MINOR_VERSION_MIN = 28;

export const ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
} as const;

/** fuse_init_in/out flags (the low 32 bits; flags2 holds bits 32..63, none of which we use). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  FLOCK_LOCKS: 1 << 10,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  INIT_EXT: 1 << 30,
} as const;

/** fuse_setattr_in.valid */
export const SetattrValid = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
} as const;

/** fuse_open_out.open_flags */
export const OpenOutFlag = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
} as const;

const GETATTR_FH = 1 << 0;
const FSYNC_FDATASYNC = 1 << 0;

export const IN_HEADER_BYTES = 40;
export const OUT_HEADER_BYTES = 16;
const ATTR_BYTES = 88;
export const ENTRY_OUT_BYTES = 40 + ATTR_BYTES;
export const ATTR_OUT_BYTES = 16 + ATTR_BYTES;
export const OPEN_OUT_BYTES = 16;
export const WRITE_OUT_BYTES = 8;
export const STATFS_OUT_BYTES = 80;
export const INIT_OUT_BYTES = 64;
const WRITE_IN_BYTES = 40;
const DIRENT_HEADER_BYTES = 24;
const DIRENTPLUS_HEADER_BYTES = ENTRY_OUT_BYTES + DIRENT_HEADER_BYTES;
/** Bytes of a request beyond its payload: what a read buffer needs on top of max_write. */
export const WRITE_REQUEST_OVERHEAD_BYTES = IN_HEADER_BYTES + WRITE_IN_BYTES;

const TWO_32 = 2 ** 32;
const { EINVAL, EOVERFLOW } = osConstants.errno;

// ---------------------------------------------------------------- integers

function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  // 2^53 = hi 2^21: anything at or above it would be rounded.
  if (hi >= 0x200000) throw new FuseError(EOVERFLOW, 'a 64-bit field exceeds 2^53');
  return hi * TWO_32 + buf.readUInt32LE(at);
}

/** Times are signed (time64_t) on the wire even where the struct says uint64_t. */
function readI64(buf: Buffer, at: number): number {
  const hi = buf.readInt32LE(at + 4);
  if (hi >= 0x200000 || hi < -0x200000) throw new FuseError(EOVERFLOW, 'a 64-bit field exceeds 2^53');
  return hi * TWO_32 + buf.readUInt32LE(at);
}

function writeU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, at);
  buf.writeUInt32LE(Math.floor(value / TWO_32) >>> 0, at + 4);
}

function writeI64(buf: Buffer, at: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  buf.writeUInt32LE(value - hi * TWO_32, at);
  buf.writeInt32LE(hi, at + 4);
}

/** Milliseconds as (seconds, nanoseconds), nanoseconds in [0, 1e9). */
function writeTimespec(buf: Buffer, secAt: number, nsecAt: number, ms: number): void {
  let sec = Math.floor(ms / 1000);
  // Quantized to the microsecond, the file systems' resolution: a float of milliseconds since the epoch is off by a fraction of one.
  let nsec = Math.round((ms - sec * 1000) * 1e3) * 1e3;
  if (nsec >= 1e9) {
    sec += 1;
    nsec -= 1e9;
  }
  writeI64(buf, secAt, sec);
  buf.writeUInt32LE(nsec, nsecAt);
}

function timespecMs(sec: number, nsec: number): number {
  // Truncated to the microsecond, as Linux truncates times to a file system's granularity.
  return sec * 1000 + Math.floor(nsec / 1e3) / 1e3;
}

// ------------------------------------------------------------------ header

export interface InHeader {
  /** Bytes of the whole request, header included. */
  readonly len: number;
  readonly opcode: number;
  readonly unique: number;
  readonly nodeid: number;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Bytes of extensions at the end of the request (none unless negotiated; we negotiate none). */
  readonly extBytes: number;
}

export function decodeInHeader(buf: Buffer, bytesRead: number): InHeader {
  if (bytesRead < IN_HEADER_BYTES) throw new FuseError(EINVAL, `short request: ${bytesRead} bytes`);
  const len = buf.readUInt32LE(0);
  if (len !== bytesRead) throw new FuseError(EINVAL, `request says ${len} bytes, read ${bytesRead}`);
  return {
    len,
    opcode: buf.readUInt32LE(4),
    unique: readU64(buf, 8),
    nodeid: readU64(buf, 16),
    uid: buf.readUInt32LE(24),
    gid: buf.readUInt32LE(28),
    pid: buf.readUInt32LE(32),
    extBytes: buf.readUInt16LE(36) * 8,
  };
}

export function encodeOutHeader(buf: Buffer, len: number, error: number, unique: number): void {
  buf.writeUInt32LE(len, 0);
  buf.writeInt32LE(error, 4);
  writeU64(buf, 8, unique);
}

// ---------------------------------------------------------------- requests

export interface InitRequest {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
}

/**
 * A request decoded into what the session needs to serve it. Strings are
 * copied out of the read buffer; `data` of a write is a view into it (the
 * session keeps that buffer until the write settles).
 */
export type FuseRequest =
  | { readonly kind: 'init'; readonly init: InitRequest }
  | { readonly kind: 'destroy' }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'forget'; readonly nlookup: number }
  | { readonly kind: 'batchForget'; readonly forgets: ReadonlyArray<{ readonly ino: number; readonly nlookup: number }> }
  | { readonly kind: 'lookup'; readonly name: string }
  | { readonly kind: 'getattr'; readonly fh: number | undefined }
  | { readonly kind: 'setattr'; readonly changes: AttrChanges }
  | { readonly kind: 'readlink' }
  | { readonly kind: 'symlink'; readonly name: string; readonly target: string }
  | { readonly kind: 'mknod'; readonly name: string; readonly mode: number; readonly rdev: number; readonly umask: number }
  | { readonly kind: 'mkdir'; readonly name: string; readonly mode: number; readonly umask: number }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rmdir'; readonly name: string }
  | { readonly kind: 'rename'; readonly name: string; readonly newParent: number; readonly newName: string; readonly flags: number }
  | { readonly kind: 'link'; readonly ino: number; readonly newName: string }
  | { readonly kind: 'open'; readonly flags: number }
  | { readonly kind: 'opendir'; readonly flags: number }
  | { readonly kind: 'read'; readonly fh: number; readonly offset: number; readonly size: number }
  | { readonly kind: 'readdir'; readonly plus: boolean; readonly fh: number; readonly offset: number; readonly size: number }
  | { readonly kind: 'write'; readonly fh: number; readonly offset: number; readonly data: Buffer }
  | { readonly kind: 'statfs' }
  | { readonly kind: 'flush'; readonly fh: number }
  | { readonly kind: 'release'; readonly dir: boolean; readonly fh: number }
  | { readonly kind: 'fsync'; readonly fh: number; readonly datasync: boolean }
  | { readonly kind: 'access'; readonly mask: number }
  | { readonly kind: 'create'; readonly name: string; readonly mode: number; readonly flags: number; readonly umask: number }
  /** Anything the session answers without the file system; `opcode` picks the errno. */
  | { readonly kind: 'unsupported'; readonly opcode: number };

/** Reads a request's arguments; `end` excludes extensions, which follow them. */
class ArgReader {
  constructor(
    private readonly buf: Buffer,
    private at: number,
    private readonly end: number,
  ) {}

  /** Fixed-size struct at the current position; returns its offset in the buffer. */
  struct(bytes: number): number {
    const at = this.at;
    if (at + bytes > this.end) throw new FuseError(EINVAL, `request too short for a ${bytes}-byte argument`);
    this.at += bytes;
    return at;
  }

  /** NUL-terminated string (a name or a symlink target). */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.at);
    if (nul < 0 || nul >= this.end) throw new FuseError(EINVAL, 'unterminated string in request');
    const s = this.buf.toString('utf8', this.at, nul);
    this.at = nul + 1;
    return s;
  }

  rest(): Buffer {
    return this.buf.subarray(this.at, this.end);
  }
}

/** Decodes the arguments that follow the header. Throws FuseError (EINVAL, EOVERFLOW) on a malformed request. */
export function decodeRequest(buf: Buffer, h: InHeader): FuseRequest {
  const args = new ArgReader(buf, IN_HEADER_BYTES, h.len - h.extBytes);
  switch (h.opcode) {
    case Opcode.INIT: {
      // fuse_init_in: major, minor, max_readahead, flags (flags2 and the rest only from 7.36).
      const at = args.struct(16);
      return {
        kind: 'init',
        init: { major: buf.readUInt32LE(at), minor: buf.readUInt32LE(at + 4), maxReadahead: buf.readUInt32LE(at + 8), flags: buf.readUInt32LE(at + 12) },
      };
    }
    case Opcode.DESTROY:
      return { kind: 'destroy' };
    case Opcode.INTERRUPT:
      return { kind: 'interrupt' };
    case Opcode.FORGET:
      return { kind: 'forget', nlookup: readU64(buf, args.struct(8)) };
    case Opcode.BATCH_FORGET: {
      const count = buf.readUInt32LE(args.struct(8));
      const forgets = new Array<{ ino: number; nlookup: number }>(count);
      for (let i = 0; i < count; i++) {
        const at = args.struct(16);
        forgets[i] = { ino: readU64(buf, at), nlookup: readU64(buf, at + 8) };
      }
      return { kind: 'batchForget', forgets };
    }
    case Opcode.LOOKUP:
      return { kind: 'lookup', name: args.cstring() };
    case Opcode.GETATTR: {
      const at = args.struct(16);
      return { kind: 'getattr', fh: buf.readUInt32LE(at) & GETATTR_FH ? readU64(buf, at + 8) : undefined };
    }
    case Opcode.SETATTR:
      return { kind: 'setattr', changes: decodeSetattr(buf, args.struct(88)) };
    case Opcode.READLINK:
      return { kind: 'readlink' };
    case Opcode.SYMLINK: {
      // The new entry's name comes first, then the link's target.
      const name = args.cstring();
      return { kind: 'symlink', name, target: args.cstring() };
    }
    case Opcode.MKNOD: {
      const at = args.struct(16);
      return { kind: 'mknod', mode: buf.readUInt32LE(at), rdev: buf.readUInt32LE(at + 4), umask: buf.readUInt32LE(at + 8), name: args.cstring() };
    }
    case Opcode.MKDIR: {
      const at = args.struct(8);
      return { kind: 'mkdir', mode: buf.readUInt32LE(at), umask: buf.readUInt32LE(at + 4), name: args.cstring() };
    }
    case Opcode.UNLINK:
      return { kind: 'unlink', name: args.cstring() };
    case Opcode.RMDIR:
      return { kind: 'rmdir', name: args.cstring() };
    case Opcode.RENAME: {
      const newParent = readU64(buf, args.struct(8));
      const name = args.cstring();
      return { kind: 'rename', newParent, name, newName: args.cstring(), flags: 0 };
    }
    case Opcode.RENAME2: {
      const at = args.struct(16);
      const name = args.cstring();
      return { kind: 'rename', newParent: readU64(buf, at), flags: buf.readUInt32LE(at + 8), name, newName: args.cstring() };
    }
    case Opcode.LINK: {
      const ino = readU64(buf, args.struct(8));
      return { kind: 'link', ino, newName: args.cstring() };
    }
    case Opcode.OPEN:
      return { kind: 'open', flags: buf.readUInt32LE(args.struct(8)) };
    case Opcode.OPENDIR:
      return { kind: 'opendir', flags: buf.readUInt32LE(args.struct(8)) };
    case Opcode.READ:
    case Opcode.READDIR:
    case Opcode.READDIRPLUS: {
      // fuse_read_in: fh, offset, size, read_flags, lock_owner, flags, padding.
      const at = args.struct(40);
      const fh = readU64(buf, at);
      const offset = readU64(buf, at + 8);
      const size = buf.readUInt32LE(at + 16);
      if (h.opcode === Opcode.READ) return { kind: 'read', fh, offset, size };
      return { kind: 'readdir', plus: h.opcode === Opcode.READDIRPLUS, fh, offset, size };
    }
    case Opcode.WRITE: {
      const at = args.struct(WRITE_IN_BYTES);
      const size = buf.readUInt32LE(at + 16);
      const data = args.rest();
      if (data.length < size) throw new FuseError(EINVAL, `write of ${size} bytes carries ${data.length}`);
      return { kind: 'write', fh: readU64(buf, at), offset: readU64(buf, at + 8), data: data.subarray(0, size) };
    }
    case Opcode.STATFS:
      return { kind: 'statfs' };
    case Opcode.FLUSH:
      return { kind: 'flush', fh: readU64(buf, args.struct(24)) };
    case Opcode.RELEASE:
    case Opcode.RELEASEDIR:
      return { kind: 'release', dir: h.opcode === Opcode.RELEASEDIR, fh: readU64(buf, args.struct(24)) };
    case Opcode.FSYNC: {
      const at = args.struct(16);
      return { kind: 'fsync', fh: readU64(buf, at), datasync: (buf.readUInt32LE(at + 8) & FSYNC_FDATASYNC) !== 0 };
    }
    case Opcode.ACCESS:
      return { kind: 'access', mask: buf.readUInt32LE(args.struct(8)) };
    case Opcode.CREATE: {
      const at = args.struct(16);
      return { kind: 'create', flags: buf.readUInt32LE(at), mode: buf.readUInt32LE(at + 4), umask: buf.readUInt32LE(at + 8), name: args.cstring() };
    }
    default:
      return { kind: 'unsupported', opcode: h.opcode };
  }
}

/** fuse_setattr_in: only the fields whose FATTR_* bit is set. FATTR_CTIME and FATTR_LOCKOWNER carry nothing the file system acts on. */
function decodeSetattr(buf: Buffer, at: number): AttrChanges {
  const valid = buf.readUInt32LE(at);
  const changes: { -readonly [K in keyof AttrChanges]: AttrChanges[K] } = {};
  if (valid & SetattrValid.FH) changes.fh = readU64(buf, at + 8);
  if (valid & SetattrValid.SIZE) changes.size = readU64(buf, at + 16);
  // The *_NOW bits come together with FATTR_ATIME/FATTR_MTIME: they win.
  if (valid & SetattrValid.ATIME_NOW) changes.atime = 'now';
  else if (valid & SetattrValid.ATIME) changes.atime = timespecMs(readI64(buf, at + 32), buf.readUInt32LE(at + 56));
  if (valid & SetattrValid.MTIME_NOW) changes.mtime = 'now';
  else if (valid & SetattrValid.MTIME) changes.mtime = timespecMs(readI64(buf, at + 40), buf.readUInt32LE(at + 60));
  if (valid & SetattrValid.MODE) changes.mode = buf.readUInt32LE(at + 68);
  if (valid & SetattrValid.UID) changes.uid = buf.readUInt32LE(at + 76);
  if (valid & SetattrValid.GID) changes.gid = buf.readUInt32LE(at + 80);
  return changes;
}

// ----------------------------------------------------------------- replies

/** fuse_attr at `at`. */
function encodeAttr(buf: Buffer, at: number, a: InodeAttr): void {
  writeU64(buf, at, a.ino);
  writeU64(buf, at + 8, a.size);
  writeU64(buf, at + 16, a.blocks);
  writeTimespec(buf, at + 24, at + 48, a.atimeMs);
  writeTimespec(buf, at + 32, at + 52, a.mtimeMs);
  writeTimespec(buf, at + 40, at + 56, a.ctimeMs);
  buf.writeUInt32LE(a.mode, at + 60);
  buf.writeUInt32LE(a.nlink, at + 64);
  buf.writeUInt32LE(a.uid, at + 68);
  buf.writeUInt32LE(a.gid, at + 72);
  buf.writeUInt32LE(a.rdev, at + 76);
  buf.writeUInt32LE(a.blksize, at + 80);
  buf.writeUInt32LE(0, at + 84);
}

/** A cache timeout: seconds then nanoseconds, at separate places in the struct. */
function writeValidity(buf: Buffer, secAt: number, nsecAt: number, ms: number): void {
  const clamped = Math.max(0, ms);
  const sec = Math.floor(clamped / 1000);
  writeU64(buf, secAt, sec);
  buf.writeUInt32LE(Math.min(999_999_999, Math.round((clamped - sec * 1000) * 1e6)), nsecAt);
}

/**
 * fuse_entry_out. Generation is always 0: the file system must never reuse
 * an inode number while the mount lives (the interface has no generation).
 */
export function encodeEntryOut(buf: Buffer, at: number, e: EntryReply): number {
  writeU64(buf, at, e.attr.ino);
  writeU64(buf, at + 8, 0);
  writeValidity(buf, at + 16, at + 32, e.entryTimeoutMs);
  writeValidity(buf, at + 24, at + 36, e.attrTimeoutMs);
  encodeAttr(buf, at + 40, e.attr);
  return ENTRY_OUT_BYTES;
}

export function encodeAttrOut(buf: Buffer, at: number, attr: InodeAttr, attrTimeoutMs: number): number {
  writeValidity(buf, at, at + 8, attrTimeoutMs);
  buf.writeUInt32LE(0, at + 12);
  encodeAttr(buf, at + 16, attr);
  return ATTR_OUT_BYTES;
}

export function encodeOpenOut(buf: Buffer, at: number, fh: number, openFlags: number): number {
  writeU64(buf, at, fh);
  buf.writeUInt32LE(openFlags, at + 8);
  buf.writeUInt32LE(0, at + 12);
  return OPEN_OUT_BYTES;
}

export function encodeWriteOut(buf: Buffer, at: number, size: number): number {
  buf.writeUInt32LE(size, at);
  buf.writeUInt32LE(0, at + 4);
  return WRITE_OUT_BYTES;
}

export function encodeStatfsOut(buf: Buffer, at: number, s: StatfsReply): number {
  writeU64(buf, at, s.blocks);
  writeU64(buf, at + 8, s.bfree);
  writeU64(buf, at + 16, s.bavail);
  writeU64(buf, at + 24, s.files);
  writeU64(buf, at + 32, s.ffree);
  buf.writeUInt32LE(s.bsize, at + 40);
  buf.writeUInt32LE(s.namelen, at + 44);
  buf.writeUInt32LE(s.frsize, at + 48);
  buf.fill(0, at + 52, at + STATFS_OUT_BYTES);
  return STATFS_OUT_BYTES;
}

export interface InitReply {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWrite: number;
  /** Nanoseconds: the granularity of the file system's timestamps. */
  readonly timeGran: number;
  readonly maxPages: number;
}

export function encodeInitOut(buf: Buffer, at: number, r: InitReply): number {
  buf.writeUInt32LE(r.major, at);
  buf.writeUInt32LE(r.minor, at + 4);
  buf.writeUInt32LE(r.maxReadahead, at + 8);
  buf.writeUInt32LE(r.flags >>> 0, at + 12);
  buf.writeUInt16LE(r.maxBackground, at + 16);
  buf.writeUInt16LE(r.congestionThreshold, at + 18);
  buf.writeUInt32LE(r.maxWrite, at + 20);
  buf.writeUInt32LE(r.timeGran, at + 24);
  buf.writeUInt16LE(r.maxPages, at + 28);
  // map_alignment, flags2, unused[7]
  buf.fill(0, at + 30, at + INIT_OUT_BYTES);
  return INIT_OUT_BYTES;
}

// --------------------------------------------------------- directory pages

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** fuse_dirent (without the name) at `at`. */
function encodeDirentHeader(buf: Buffer, at: number, d: DirEntryOut, nameBytes: number): void {
  writeU64(buf, at, d.ino);
  writeU64(buf, at + 8, d.nextOffset);
  buf.writeUInt32LE(nameBytes, at + 16);
  // d_type is the S_IFMT bits shifted down, as in <dirent.h>.
  buf.writeUInt32LE(d.type >>> 12, at + 20);
}

/**
 * Packs entries from `entries` into buf[at, at + size), each 8-byte aligned,
 * stopping at the first that does not fit. Returns bytes used and entries packed.
 */
export function packDirents(buf: Buffer, at: number, size: number, entries: readonly DirEntryOut[]): { bytes: number; count: number } {
  let used = 0;
  let count = 0;
  for (const d of entries) {
    const nameBytes = Buffer.byteLength(d.name, 'utf8');
    const rec = align8(DIRENT_HEADER_BYTES + nameBytes);
    if (used + rec > size) break;
    const p = at + used;
    encodeDirentHeader(buf, p, d, nameBytes);
    buf.write(d.name, p + DIRENT_HEADER_BYTES, nameBytes, 'utf8');
    buf.fill(0, p + DIRENT_HEADER_BYTES + nameBytes, p + rec);
    used += rec;
    count++;
  }
  return { bytes: used, count };
}

/** As packDirents, with a fuse_entry_out before each fuse_dirent (fuse_direntplus). */
export function packDirentsPlus(buf: Buffer, at: number, size: number, entries: readonly DirEntryPlusOut[]): { bytes: number; count: number } {
  let used = 0;
  let count = 0;
  for (const d of entries) {
    const nameBytes = Buffer.byteLength(d.name, 'utf8');
    const rec = align8(DIRENTPLUS_HEADER_BYTES + nameBytes);
    if (used + rec > size) break;
    const p = at + used;
    encodeEntryOut(buf, p, d.entry);
    encodeDirentHeader(buf, p + ENTRY_OUT_BYTES, d, nameBytes);
    buf.write(d.name, p + DIRENTPLUS_HEADER_BYTES, nameBytes, 'utf8');
    buf.fill(0, p + DIRENTPLUS_HEADER_BYTES + nameBytes, p + rec);
    used += rec;
    count++;
  }
  return { bytes: used, count };
}
