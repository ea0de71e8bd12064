/**
 * A FUSE session: the kernel's side of a mount spoken on /dev/fuse, with no
 * native addon. It opens /dev/fuse, mounts it (mount-point.ts), answers
 * FUSE_INIT, then reads requests, hands each to a `FileSystem` and writes
 * the reply, many requests in flight at once and replies in any order.
 *
 * Threads: a read on /dev/fuse blocks until the kernel has a request, so
 * reads run in libuv's thread pool, `readers` of them outstanding, each with
 * its own buffer. Every outstanding read holds a pool thread for as long as
 * the mount is idle, so the pool must be bigger than `readers`: libuv sizes
 * it from UV_THREADPOOL_SIZE when it first starts, which in an ES module is
 * before any of our code runs (the module loader reads files through it).
 * So the process that serves a mount must be started with that variable set
 * (`threadPoolSizeFor(readers)`), and its main passes what it was started
 * with as `threadPoolSize`; the session refuses readers that would starve
 * the pool. Replies are written synchronously from the main thread: a reply
 * write only hands bytes to a waiting request and never waits on us.
 *
 * A pool thread blocked in read() also keeps process.exit() from returning
 * until the read ends: unmount (or let the kernel disconnect) before exiting.
 *
 * The serving process must never wait on its own mount, and some waits are
 * hidden: a synchronous fs call on a path inside it, and child_process.spawn
 * with `cwd` inside it or of a program stored in it (spawn blocks the main
 * thread until the child has exec'd, and the child's chdir or exec needs a
 * reply from this very thread). Let the child's shell `cd` instead.
 *
 * Lifecycle: opening (mounted, INIT not yet answered) -> open -> closing
 * (unmounting, or the kernel disconnected) -> closed (every read ended with
 * ENODEV, every request settled, fs.destroy() ran, /dev/fuse closed).
 */
import { close as closeCallback, open as openCallback, read, writeSync, writevSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { promisify } from 'node:util';
import { DfsError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { assert, assertNever } from '../common/assert.js';
import { FuseError, type DirEntryOut, type FileSystem, type OpenReply, type RequestContext } from './file-system.js';
import {
  decodeInHeader,
  decodeRequest,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeOutHeader,
  encodeStatfsOut,
  encodeWriteOut,
  InitFlag,
  KERNEL_MINOR_VERSION,
  KERNEL_MINOR_VERSION_MIN,
  KERNEL_VERSION,
  OpenOutFlag,
  OUT_HEADER_BYTES,
  packDirents,
  packDirentsPlus,
  WRITE_REQUEST_OVERHEAD_BYTES,
  type FuseRequest,
  type InHeader,
  type InitReply,
  type InitRequest,
} from './kernel-protocol.js';
import { abortConnection, canonicalMountPoint, clearStaleMount, mountFuse, setReadahead, unmountFuse, type MountEntry } from './mount-point.js';

const PAGE_BYTES = 4096;
/** Timestamps are kept to the microsecond. */
const TIME_GRANULARITY_NS = 1000;
const MIB = 1024 * 1024;
/** FUSE_MAX_PAGES lets a request carry up to 256 pages (the kernel's default fs.fuse.max_pages_limit). */
const MAX_WRITE_BYTES_LIMIT = 256 * PAGE_BYTES;
/** Pool threads left free for everything else (logging, fs calls of the file system, DNS). */
const SPARE_POOL_THREADS = 2;
/** libuv's pool size when UV_THREADPOOL_SIZE is unset, and its upper bound. */
const LIBUV_DEFAULT_POOL_SIZE = 4;
const LIBUV_MAX_POOL_SIZE = 1024;

const { EIO, ENOSYS, EPROTO } = osConstants.errno;

export type SessionState = 'opening' | 'open' | 'closing' | 'closed';

export interface SessionOptions {
  /** Largest WRITE (and READ) the kernel sends: a multiple of 4 KiB, at most 1 MiB. Default 1 MiB. */
  maxWriteBytes?: number;
  /**
   * Readahead of sequential buffered reads. INIT can only lower what the kernel offers (128 KiB unless tuned), so a
   * larger value is set on the mount's bdi in sysfs once mounted. Default: the kernel's offer.
   */
  maxReadaheadBytes?: number;
  /** FUSE_WRITEBACK_CACHE: the kernel buffers writes and sends them later (and may READ pages of files opened write-only). Default off. */
  writebackCache?: boolean;
  /** Background requests (readahead, writeback) the kernel keeps in flight. Default 64. */
  maxBackground?: number;
  /** Background requests in flight at which the kernel marks the mount congested. Default 48. */
  congestionThreshold?: number;
  /** Mount option allow_other. Default true. */
  allowOther?: boolean;
  /** Mount option default_permissions (the kernel checks permissions). Default true. */
  defaultPermissions?: boolean;
  /** The mount's source in mount tables. Default "dfs". */
  fsname?: string;
  /** Reads kept outstanding on /dev/fuse. Default: min(4, what the pool has left: threadPoolSize - 2 - other sessions' readers). */
  readers?: number;
  /** libuv's pool size in this process (see threadPoolSizeFromEnv). Default 4, libuv's own default. */
  threadPoolSize?: number;
  logger?: Logger;
}

export interface UnmountOptions {
  /** If the connection has not ended this long after the unmount (a busy mount was detached), abort it. Default: wait. */
  abortAfterMs?: number;
}

/** The pool size a process started with `env` has: what main passes as SessionOptions.threadPoolSize. */
export function threadPoolSizeFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.UV_THREADPOOL_SIZE;
  if (raw === undefined || raw === '') return LIBUV_DEFAULT_POOL_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new DfsError('INVALID_ARGUMENT', `UV_THREADPOOL_SIZE must be a positive integer, not "${raw}"`);
  return Math.min(n, LIBUV_MAX_POOL_SIZE);
}

/** The UV_THREADPOOL_SIZE to start a mount process with so that it can keep `readers` reads outstanding. */
export function threadPoolSizeFor(readers: number): number {
  return readers + SPARE_POOL_THREADS;
}

/**
 * Pool threads blocked by the readers of every session alive in this
 * process. The pool is one per process, so this count is too.
 */
let poolThreadsHeld = 0;

interface SessionConfig {
  maxWriteBytes: number;
  maxReadaheadBytes: number | undefined;
  writebackCache: boolean;
  maxBackground: number;
  congestionThreshold: number;
  allowOther: boolean;
  defaultPermissions: boolean;
  fsname: string;
  readers: number;
}

function resolveOptions(options: SessionOptions): SessionConfig {
  const maxWriteBytes = options.maxWriteBytes ?? MIB;
  if (!Number.isInteger(maxWriteBytes) || maxWriteBytes < PAGE_BYTES || maxWriteBytes > MAX_WRITE_BYTES_LIMIT || maxWriteBytes % PAGE_BYTES !== 0) {
    throw new DfsError('INVALID_ARGUMENT', `maxWriteBytes must be a multiple of ${PAGE_BYTES} in [${PAGE_BYTES}, ${MAX_WRITE_BYTES_LIMIT}], not ${maxWriteBytes}`);
  }
  const poolSize = options.threadPoolSize ?? LIBUV_DEFAULT_POOL_SIZE;
  const readersMax = poolSize - SPARE_POOL_THREADS - poolThreadsHeld;
  const readers = options.readers ?? Math.min(4, readersMax);
  if (!Number.isInteger(readers) || readers < 1 || readers > readersMax) {
    const needed = threadPoolSizeFor(poolThreadsHeld + Math.max(1, readers));
    throw new DfsError(
      'INVALID_ARGUMENT',
      `${readers} readers on /dev/fuse (with ${poolThreadsHeld} held by other sessions) need a libuv pool of ${needed} threads, ` +
        `this process has ${poolSize}: start it with UV_THREADPOOL_SIZE=${needed} and pass threadPoolSize`,
    );
  }
  const maxBackground = options.maxBackground ?? 64;
  const congestionThreshold = options.congestionThreshold ?? 48;
  if (maxBackground < 1 || maxBackground > 0xffff || congestionThreshold < 1 || congestionThreshold > maxBackground) {
    throw new DfsError('INVALID_ARGUMENT', `need 1 <= congestionThreshold (${congestionThreshold}) <= maxBackground (${maxBackground}) <= 65535`);
  }
  return {
    maxWriteBytes,
    maxReadaheadBytes: options.maxReadaheadBytes,
    writebackCache: options.writebackCache ?? false,
    maxBackground,
    congestionThreshold,
    allowOther: options.allowOther ?? true,
    defaultPermissions: options.defaultPermissions ?? true,
    fsname: options.fsname ?? 'dfs',
    readers,
  };
}

/** What we ask of the kernel in INIT (granted where it offers the same bit). */
function wantedInitFlags(config: { writebackCache: boolean }): number {
  return (
    InitFlag.ASYNC_READ |
    // open() gets O_TRUNC instead of a separate SETATTR size=0.
    InitFlag.ATOMIC_O_TRUNC |
    InitFlag.BIG_WRITES |
    // Cached pages go when a GETATTR shows a new mtime or size: close-to-open consistency.
    InitFlag.AUTO_INVAL_DATA |
    InitFlag.DO_READDIRPLUS |
    InitFlag.READDIRPLUS_AUTO |
    InitFlag.PARALLEL_DIROPS |
    InitFlag.MAX_PAGES |
    (config.writebackCache ? InitFlag.WRITEBACK_CACHE : 0)
  );
  // Not asked: EXPORT_SUPPORT (no lookups of "." and ".."), DONT_MASK (the kernel applies the umask; it is passed on
  // anyway), POSIX_LOCKS and FLOCK_LOCKS (the kernel then locks locally), HANDLE_KILLPRIV (the kernel clears suid/sgid).
}

export type InitOutcome =
  | { readonly kind: 'accept'; readonly reply: InitReply }
  /** The kernel speaks a newer major version: answer with ours and expect another INIT. */
  | { readonly kind: 'retry'; readonly reply: InitReply }
  | { readonly kind: 'refuse'; readonly reason: string };

/** INIT negotiation, pure: what to answer to the kernel's offer. */
export function negotiateInit(offer: InitRequest, config: Pick<SessionConfig, 'maxWriteBytes' | 'maxReadaheadBytes' | 'writebackCache' | 'maxBackground' | 'congestionThreshold'>): InitOutcome {
  const ours: InitReply = {
    major: KERNEL_VERSION,
    minor: Math.min(offer.minor, KERNEL_MINOR_VERSION),
    maxReadahead: Math.min(config.maxReadaheadBytes ?? offer.maxReadahead, offer.maxReadahead),
    flags: (wantedInitFlags(config) & offer.flags) >>> 0,
    maxBackground: config.maxBackground,
    congestionThreshold: config.congestionThreshold,
    maxWrite: config.maxWriteBytes,
    // File systems served here keep times to the microsecond (see InodeAttr): the kernel truncates to that too.
    timeGran: TIME_GRANULARITY_NS,
    maxPages: Math.ceil(config.maxWriteBytes / PAGE_BYTES),
  };
  if (offer.major > KERNEL_VERSION) return { kind: 'retry', reply: { ...ours, minor: KERNEL_MINOR_VERSION } };
  if (offer.major < KERNEL_VERSION || offer.minor < KERNEL_MINOR_VERSION_MIN) {
    return { kind: 'refuse', reason: `kernel speaks FUSE ${offer.major}.${offer.minor}, we need ${KERNEL_VERSION}.${KERNEL_MINOR_VERSION_MIN} or newer` };
  }
  return { kind: 'accept', reply: ours };
}

/**
 * The errno to answer a failed request with: a FuseError's own, the errno a
 * DfsError's code maps to (any error whose string `errno` names one), else
 * EIO, and `unexpected` says the error deserves a log line.
 */
export function errnoOf(err: unknown): { errno: number; unexpected: boolean } {
  if (err instanceof FuseError && Number.isInteger(err.errno) && err.errno > 0) return { errno: err.errno, unexpected: false };
  if (typeof err === 'object' && err !== null && 'errno' in err && typeof err.errno === 'string') {
    const errno = (osConstants.errno as Record<string, number | undefined>)[err.errno];
    if (errno !== undefined) return { errno, unexpected: false };
  }
  return { errno: EIO, unexpected: true };
}

const openAsync = promisify(openCallback);
const closeAsync = promisify(closeCallback);

export class FuseSession {
  /** Resolves once the connection is gone and everything is cleaned up, whoever ended it. */
  readonly closed: Promise<void>;

  private stateNow: SessionState = 'opening';
  /** The kernel ended the connection (a read failed with ENODEV). */
  private disconnected = false;
  private readersRunning = 0;
  private requestsInFlight = 0;
  private finishing = false;
  private fdClosed = false;
  private destroying: Promise<void> | undefined;
  private resolveClosed!: () => void;
  private initSettled!: (err?: Error) => void;
  private readonly initialized: Promise<void>;
  /** What the kernel offered in INIT. */
  private offeredReadaheadBytes = 0;

  /** Read buffers not in use: a write's buffer comes back once the file system is done with its data. */
  private readonly freeBuffers: Buffer[] = [];
  private readonly freeBuffersMax: number;
  private readonly readBufferBytes: number;
  /** Replies are encoded here and written synchronously, so one buffer serves every reply. */
  private readonly replyBuffer: Buffer;
  /** The out header of a reply whose payload is the file system's own buffer (READ). */
  private readonly dataHeader = Buffer.alloc(OUT_HEADER_BYTES);

  private constructor(
    readonly mountPoint: string,
    private readonly mount: MountEntry,
    private readonly fd: number,
    private readonly fs: FileSystem,
    private readonly config: SessionConfig,
    private readonly logger: Logger,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.initialized = new Promise((resolve, reject) => {
      this.initSettled = (err) => (err === undefined ? resolve() : reject(err));
    });
    // The largest request is a WRITE: its headers and max_write bytes of data.
    this.readBufferBytes = config.maxWriteBytes + PAGE_BYTES;
    assert(WRITE_REQUEST_OVERHEAD_BYTES <= PAGE_BYTES, 'a read buffer has room for a write request\'s headers');
    // A READDIR may ask for up to max_pages pages.
    this.replyBuffer = Buffer.alloc(OUT_HEADER_BYTES + Math.ceil(config.maxWriteBytes / PAGE_BYTES) * PAGE_BYTES);
    this.freeBuffersMax = config.readers * 2 + 8;
  }

  /**
   * Mounts `fs` at `mountPoint` (clearing a stale mount a dead server left
   * there first) and resolves once the kernel's INIT is answered.
   */
  static async mount(mountPoint: string, fs: FileSystem, options: SessionOptions = {}): Promise<FuseSession> {
    const config = resolveOptions(options);
    const logger = (options.logger ?? silentLogger).child({ component: 'fuse-session' });
    // Reserved at once, so that mounts started together cannot overbook the pool; the session gives them back when it closes.
    poolThreadsHeld += config.readers;
    let mount: MountEntry;
    let canonical: string;
    let fd: number;
    try {
      canonical = await canonicalMountPoint(mountPoint);
      await clearStaleMount(canonical, logger);
      fd = await openAsync('/dev/fuse', 'r+');
      try {
        mount = await mountFuse(canonical, fd, {
          fsname: config.fsname,
          allowOther: config.allowOther,
          defaultPermissions: config.defaultPermissions,
          maxReadBytes: config.maxWriteBytes,
        });
      } catch (err) {
        await closeAsync(fd);
        throw err;
      }
    } catch (err) {
      poolThreadsHeld -= config.readers;
      throw err;
    }
    const session = new FuseSession(canonical, mount, fd, fs, config, logger);
    for (let i = 0; i < config.readers; i++) session.startReader();
    try {
      await session.initialized;
    } catch (err) {
      await session.unmount({ abortAfterMs: 0 });
      throw err;
    }
    if (config.maxReadaheadBytes !== undefined && config.maxReadaheadBytes > session.offeredReadaheadBytes) {
      await setReadahead(mount.device, config.maxReadaheadBytes).catch((err: unknown) =>
        logger.warn({ err, device: mount.device }, 'cannot raise readahead; keeping the kernel\'s'),
      );
    }
    logger.info({ mountPoint: canonical, device: mount.device, readers: config.readers }, 'mounted');
    return session;
  }

  get state(): SessionState {
    return this.stateNow;
  }

  /** The connection's device ("major:minor"): names it under /sys/fs/fuse/connections and /sys/class/bdi. */
  get device(): string {
    return this.mount.device;
  }

  /**
   * Unmounts (lazily if the mount is busy), waits for the connection to end
   * and for fs.destroy(). With `abortAfterMs`, a connection that outlives
   * the unmount that long (a detached mount someone still uses) is aborted.
   */
  async unmount(options: UnmountOptions = {}): Promise<void> {
    if (this.stateNow !== 'closed') this.stateNow = 'closing';
    // Even a closed session may leave its mount behind (the connection was aborted): take it off too.
    try {
      const result = await unmountFuse(this.mountPoint, this.logger, this.mount.device);
      this.logger.info({ mountPoint: this.mountPoint, result }, 'unmount');
    } catch (err) {
      this.logger.error({ err, mountPoint: this.mountPoint }, 'unmount failed; aborting the connection');
      await this.abort();
    }
    if (options.abortAfterMs !== undefined && this.stateNow !== 'closed') {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.abortAfterMs)));
      const expired = await Promise.race([this.closed.then(() => false), timedOut]);
      clearTimeout(timer);
      if (expired) await this.abort();
    }
    await this.closed;
  }

  /** Ends the connection at once: pending requests fail with ENOTCONN in the processes that made them. */
  async abort(): Promise<void> {
    if (this.disconnected) return;
    await abortConnection(this.mount.device, this.logger);
  }

  // ------------------------------------------------------------ read loop

  private startReader(): void {
    this.readersRunning++;
    this.readNext();
  }

  private readNext(): void {
    const buf = this.freeBuffers.pop() ?? Buffer.allocUnsafeSlow(this.readBufferBytes);
    read(this.fd, buf, 0, buf.length, null, (err, bytes) => this.onRead(err, bytes, buf));
  }

  private onRead(err: NodeJS.ErrnoException | null, bytes: number, buf: Buffer): void {
    if (err !== null) {
      this.releaseBuffer(buf);
      this.onReadError(err);
      return;
    }
    // The next read starts before this request is served, so the kernel can hand it over meanwhile.
    this.readNext();
    if (!this.serve(buf, bytes)) this.releaseBuffer(buf);
  }

  private onReadError(err: NodeJS.ErrnoException): void {
    switch (err.code) {
      case 'EINTR':
      case 'EAGAIN':
        this.readNext();
        return;
      case 'ENODEV':
      case 'ECONNABORTED':
        // The connection is gone: unmounted, aborted, or refused at INIT.
        break;
      default:
        // Nothing else is expected; stop rather than spin, and end the connection so the kernel does not wait on us forever.
        this.logger.error({ err }, 'read from /dev/fuse failed; aborting the connection');
        abortConnection(this.mount.device, this.logger).catch((abortErr: unknown) => this.logger.error({ err: abortErr }, 'abort failed'));
    }
    if (!this.disconnected) {
      this.disconnected = true;
      if (this.stateNow !== 'closed') this.stateNow = 'closing';
      this.initSettled(new DfsError('UNAVAILABLE', `FUSE connection on ${this.mountPoint} ended before INIT`));
    }
    this.readersRunning--;
    this.maybeFinish();
  }

  private releaseBuffer(buf: Buffer): void {
    if (this.freeBuffers.length < this.freeBuffersMax) this.freeBuffers.push(buf);
  }

  private maybeFinish(): void {
    if (this.readersRunning > 0 || this.requestsInFlight > 0 || this.finishing) return;
    this.finishing = true;
    void this.finish();
  }

  private async finish(): Promise<void> {
    try {
      await this.destroyOnce();
    } finally {
      poolThreadsHeld -= this.config.readers;
      this.fdClosed = true;
      try {
        await closeAsync(this.fd);
      } catch (err) {
        this.logger.error({ err }, 'closing /dev/fuse failed');
      }
      this.stateNow = 'closed';
      this.logger.info({ mountPoint: this.mountPoint }, 'session closed');
      this.resolveClosed();
    }
  }

  /** fs.destroy() runs once: on FUSE_DESTROY if the kernel sends one, else when the connection ends. */
  private destroyOnce(): Promise<void> {
    this.destroying ??= Promise.resolve()
      .then(() => this.fs.destroy())
      .catch((err: unknown) => this.logger.error({ err }, 'file system destroy failed'));
    return this.destroying;
  }

  // ------------------------------------------------------------- dispatch

  /** Serves one request read into `buf`; returns true if `buf` stays in use until a write settles. */
  private serve(buf: Buffer, bytes: number): boolean {
    let h: InHeader;
    try {
      h = decodeInHeader(buf, bytes);
    } catch (err) {
      // Without a header there is no request id to answer; the kernel never sends this.
      this.logger.error({ err, bytes }, 'malformed request header from the kernel');
      return false;
    }
    let req: FuseRequest;
    try {
      req = decodeRequest(buf, h);
    } catch (err) {
      this.fail(h, err);
      return false;
    }
    if (this.stateNow === 'opening' && req.kind !== 'init') {
      this.logger.error({ opcode: h.opcode }, 'request before INIT');
      this.replyError(h.unique, EIO);
      return false;
    }
    // The header carries uid, gid and pid: it serves as the request context without a copy.
    const ctx: RequestContext = h;
    const fs = this.fs;
    switch (req.kind) {
      case 'init':
        this.onInit(h, req.init);
        return false;
      case 'destroy':
        this.track(h, () => this.destroyOnce(), () => this.replyEmpty(h.unique));
        return false;
      case 'interrupt':
        // Requests are not cancellable here: the file system's call runs to its end and its reply is then dropped by the kernel.
        return false;
      case 'forget':
        this.forget(h.nodeid, req.nlookup);
        return false;
      case 'batchForget':
        for (const f of req.forgets) this.forget(f.ino, f.nlookup);
        return false;
      case 'lookup':
        this.track(h, () => fs.lookup(ctx, h.nodeid, req.name), (e) => this.reply(h.unique, encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, e)));
        return false;
      case 'getattr':
        this.track(h, () => fs.getattr(ctx, h.nodeid, req.fh), (a) => this.reply(h.unique, encodeAttrOut(this.replyBuffer, OUT_HEADER_BYTES, a.attr, a.attrTimeoutMs)));
        return false;
      case 'setattr':
        this.track(h, () => fs.setattr(ctx, h.nodeid, req.changes), (a) => this.reply(h.unique, encodeAttrOut(this.replyBuffer, OUT_HEADER_BYTES, a.attr, a.attrTimeoutMs)));
        return false;
      case 'readlink':
        this.track(h, () => fs.readlink(ctx, h.nodeid), (target) => this.reply(h.unique, this.replyBuffer.write(target, OUT_HEADER_BYTES, 'utf8')));
        return false;
      case 'symlink':
        this.track(h, () => fs.symlink(ctx, h.nodeid, req.name, req.target), (e) => this.reply(h.unique, encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, e)));
        return false;
      case 'mknod':
        this.track(h, () => fs.mknod(ctx, h.nodeid, req.name, req.mode, req.rdev, req.umask), (e) => this.reply(h.unique, encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, e)));
        return false;
      case 'mkdir':
        this.track(h, () => fs.mkdir(ctx, h.nodeid, req.name, req.mode, req.umask), (e) => this.reply(h.unique, encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, e)));
        return false;
      case 'unlink':
        this.track(h, () => fs.unlink(ctx, h.nodeid, req.name), () => this.replyEmpty(h.unique));
        return false;
      case 'rmdir':
        this.track(h, () => fs.rmdir(ctx, h.nodeid, req.name), () => this.replyEmpty(h.unique));
        return false;
      case 'rename':
        this.track(h, () => fs.rename(ctx, h.nodeid, req.name, req.newParent, req.newName, req.flags), () => this.replyEmpty(h.unique));
        return false;
      case 'link':
        // The header's node is the new parent; the linked inode travels in the arguments.
        this.track(h, () => fs.link(ctx, req.ino, h.nodeid, req.newName), (e) => this.reply(h.unique, encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, e)));
        return false;
      case 'open':
        this.track(h, () => fs.open(ctx, h.nodeid, req.flags), (o) => this.reply(h.unique, encodeOpenOut(this.replyBuffer, OUT_HEADER_BYTES, o.fh, openFlags(o))));
        return false;
      case 'opendir':
        this.track(h, () => fs.opendir(ctx, h.nodeid, req.flags), (o) => this.reply(h.unique, encodeOpenOut(this.replyBuffer, OUT_HEADER_BYTES, o.fh, openFlags(o))));
        return false;
      case 'create':
        this.track(h, () => fs.create(ctx, h.nodeid, req.name, req.mode, req.flags, req.umask), (c) => {
          const entryBytes = encodeEntryOut(this.replyBuffer, OUT_HEADER_BYTES, c);
          this.reply(h.unique, entryBytes + encodeOpenOut(this.replyBuffer, OUT_HEADER_BYTES + entryBytes, c.fh, openFlags(c)));
        });
        return false;
      case 'read':
        this.track(h, () => fs.read(ctx, h.nodeid, req.fh, req.offset, req.size), (data) => this.replyData(h.unique, data.length > req.size ? data.subarray(0, req.size) : data));
        return false;
      case 'write':
        // req.data points into buf: buf is released when the file system is done with it.
        this.track(h, () => fs.write(ctx, h.nodeid, req.fh, req.offset, req.data), (n) => this.reply(h.unique, encodeWriteOut(this.replyBuffer, OUT_HEADER_BYTES, n)), buf);
        return true;
      case 'readdir':
        this.readdir(h, ctx, req.plus, req.fh, req.offset, req.size);
        return false;
      case 'statfs':
        this.track(h, () => fs.statfs(ctx, h.nodeid), (s) => this.reply(h.unique, encodeStatfsOut(this.replyBuffer, OUT_HEADER_BYTES, s)));
        return false;
      case 'flush':
        this.track(h, () => fs.flush(ctx, h.nodeid, req.fh), () => this.replyEmpty(h.unique));
        return false;
      case 'release':
        this.track(h, () => (req.dir ? fs.releasedir(ctx, h.nodeid, req.fh) : fs.release(ctx, h.nodeid, req.fh)), () => this.replyEmpty(h.unique));
        return false;
      case 'fsync':
        this.track(h, () => fs.fsync(ctx, h.nodeid, req.fh, req.datasync), () => this.replyEmpty(h.unique));
        return false;
      case 'access':
        this.track(h, () => fs.access(ctx, h.nodeid, req.mask), () => this.replyEmpty(h.unique));
        return false;
      case 'unsupported':
        // ENOSYS for everything else. The kernel remembers it per connection and stops asking: xattr calls then fail
        // with EOPNOTSUPP (what ls, cp -a, rsync -a and tar expect), fallocate with EOPNOTSUPP, lseek and
        // copy_file_range fall back to generic code, fsyncdir succeeds, locks stay local (never negotiated anyway).
        this.replyError(h.unique, ENOSYS);
        return false;
      default:
        return assertNever(req, 'request');
    }
  }

  private onInit(h: InHeader, offer: InitRequest): void {
    if (this.stateNow !== 'opening') {
      this.logger.error('second INIT on an open connection');
      this.replyError(h.unique, EIO);
      return;
    }
    this.offeredReadaheadBytes = offer.maxReadahead;
    const outcome = negotiateInit(offer, this.config);
    switch (outcome.kind) {
      case 'retry':
        this.reply(h.unique, encodeInitOut(this.replyBuffer, OUT_HEADER_BYTES, outcome.reply));
        return;
      case 'refuse':
        this.replyError(h.unique, EPROTO);
        this.initSettled(new DfsError('UNAVAILABLE', outcome.reason));
        return;
      case 'accept':
        this.reply(h.unique, encodeInitOut(this.replyBuffer, OUT_HEADER_BYTES, outcome.reply));
        this.stateNow = 'open';
        this.logger.debug({ offer, reply: outcome.reply }, 'INIT answered');
        this.initSettled();
        return;
      default:
        assertNever(outcome, 'INIT outcome');
    }
  }

  private forget(ino: number, nlookup: number): void {
    try {
      this.fs.forget(ino, nlookup);
    } catch (err) {
      this.logger.error({ err, ino, nlookup }, 'forget failed');
    }
  }

  /**
   * READDIR(PLUS): as many entries as fit in `size`. Every entry of a
   * readdirplus answer counts as a lookup of its inode in the kernel, except
   * "." and ".."; the file system counts each one it returns (but those two),
   * so the ones that did not fit are given back here with forget(ino, 1).
   */
  private readdir(h: InHeader, ctx: RequestContext, plus: boolean, fh: number, offset: number, size: number): void {
    const room = Math.min(size, this.replyBuffer.length - OUT_HEADER_BYTES);
    if (!plus) {
      this.track(h, () => this.fs.readdir(ctx, h.nodeid, fh, offset), (entries) => this.reply(h.unique, packDirents(this.replyBuffer, OUT_HEADER_BYTES, room, entries).bytes));
      return;
    }
    this.track(h, () => this.fs.readdirplus(ctx, h.nodeid, fh, offset), (entries) => {
      const packed = packDirentsPlus(this.replyBuffer, OUT_HEADER_BYTES, room, entries);
      this.reply(h.unique, packed.bytes);
      for (let i = packed.count; i < entries.length; i++) {
        const e = entries[i]!;
        if (!isDotOrDotDot(e)) this.forget(e.entry.attr.ino, 1);
      }
    });
  }

  /**
   * Runs one file-system call and answers with `onSuccess` or the error's
   * errno. `buf` (a write's read buffer) goes back to the pool afterwards.
   */
  private track<T>(h: InHeader, call: () => Promise<T>, onSuccess: (value: T) => void, buf?: Buffer): void {
    this.requestsInFlight++;
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(onSuccess, (err: unknown) => this.fail(h, err))
      .catch((err: unknown) => {
        // An encoder threw: the file system answered with something the protocol cannot carry.
        this.logger.error({ err, opcode: h.opcode }, 'cannot encode reply');
        this.replyError(h.unique, EIO);
      })
      .finally(() => {
        this.requestsInFlight--;
        if (buf !== undefined) this.releaseBuffer(buf);
        this.maybeFinish();
      });
  }

  private fail(h: InHeader, err: unknown): void {
    const { errno, unexpected } = errnoOf(err);
    if (unexpected) this.logger.error({ err, opcode: h.opcode, nodeid: h.nodeid }, 'request failed unexpectedly; answering EIO');
    this.replyError(h.unique, errno);
  }

  // -------------------------------------------------------------- replies

  /** Sends the reply whose body of `bodyBytes` is already encoded in replyBuffer after the header. */
  private reply(unique: number, bodyBytes: number): void {
    const len = OUT_HEADER_BYTES + bodyBytes;
    encodeOutHeader(this.replyBuffer, len, 0, unique);
    this.writeReply(() => writeSync(this.fd, this.replyBuffer, 0, len), len);
  }

  private replyEmpty(unique: number): void {
    this.reply(unique, 0);
  }

  private replyError(unique: number, errno: number): void {
    encodeOutHeader(this.replyBuffer, OUT_HEADER_BYTES, -errno, unique);
    this.writeReply(() => writeSync(this.fd, this.replyBuffer, 0, OUT_HEADER_BYTES), OUT_HEADER_BYTES);
  }

  /** A reply whose payload is the file system's buffer, written with it in one writev (no copy). */
  private replyData(unique: number, data: Buffer): void {
    const len = OUT_HEADER_BYTES + data.length;
    encodeOutHeader(this.dataHeader, len, 0, unique);
    this.writeReply(() => writevSync(this.fd, [this.dataHeader, data]), len);
  }

  private writeReply(write: () => number, len: number): void {
    // Once the connection is closed its descriptor number may belong to another file.
    if (this.fdClosed) return;
    try {
      const written = write();
      assert(written === len, `short reply write: ${written} of ${len} bytes`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOENT: the request is no longer waiting (interrupted, or the connection was aborted); ENODEV: the connection is gone.
      if (code === 'ENOENT' || code === 'ENODEV' || code === 'ECONNABORTED') this.logger.debug({ code }, 'reply dropped by the kernel');
      else this.logger.error({ err }, 'writing a reply to /dev/fuse failed');
    }
  }
}

function openFlags(o: OpenReply): number {
  return (o.keepCache === true ? OpenOutFlag.KEEP_CACHE : 0) | (o.directIo === true ? OpenOutFlag.DIRECT_IO : 0);
}

function isDotOrDotDot(e: DirEntryOut): boolean {
  return e.name === '.' || e.name === '..';
}

