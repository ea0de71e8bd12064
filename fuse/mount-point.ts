/**
 * Putting a /dev/fuse connection on a directory and taking it off again,
 * with the system's mount(8) and umount(8) (we run as root, so no fusermount
 * helper is involved). Also: finding a mount and its connection in
 * /proc/self/mountinfo, clearing a stale mount that a crashed server left
 * behind, and aborting a wedged connection through fusectl.
 *
 * Nothing here touches the mount point itself from this process except one
 * asynchronous stat when a mount is already there (to tell a dead one from a
 * live one): the process that serves a mount must never block on it.
 */
import { spawn } from 'node:child_process';
import { readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DfsError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/** The file system type in mount tables: "fuse" with our subtype, so `df -t fuse.dfs` finds it. */
export const FUSE_FS_TYPE = 'fuse.dfs';
const FUSECTL_DIR = '/sys/fs/fuse/connections';
/** How long a stat of an existing mount may take before we call the mount wedged. */
const STALE_PROBE_TIMEOUT_MS = 2_000;

export interface FuseMountOptions {
  /** The mount's source in mount tables (libfuse's "fsname"). */
  readonly fsname: string;
  /** Let users other than root use the mount. */
  readonly allowOther: boolean;
  /** The kernel checks permissions from the attributes (the file system does not). */
  readonly defaultPermissions: boolean;
  /** Largest READ the kernel sends. */
  readonly maxReadBytes: number;
}

/** A mount as /proc/self/mountinfo shows it. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  /** The superblock's device, "major:minor"; names the FUSE connection and its bdi. */
  readonly device: string;
}

/** The absolute, symlink-free path the kernel will list the mount under. Resolves only the parent: the mount point itself may be a dead mount. */
export async function canonicalMountPoint(path: string): Promise<string> {
  const absolute = resolve(path);
  return join(await realpath(dirname(absolute)), basename(absolute));
}

/** The topmost mount at `mountPoint`, if any. */
export async function findMount(mountPoint: string): Promise<MountEntry | undefined> {
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  // Later lines are mounted later: the last match is the one on top.
  return mounts.filter((m) => m.mountPoint === mountPoint).at(-1);
}

/** Parses proc(5)'s mountinfo: "id parent major:minor root mountpoint opts [optional...] - fstype source superopts". */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 2) continue;
    entries.push({ device: fields[2]!, mountPoint: unescapeMountInfo(fields[4]!), fsType: fields[separator + 1]! });
  }
  return entries;
}

/** The kernel escapes space, tab, newline and backslash as \ooo in mountinfo paths. */
function unescapeMountInfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Mounts the open /dev/fuse descriptor `fd` at `mountPoint` (canonical) and
 * returns the new mount. The kernel queues FUSE_INIT on `fd` once this
 * resolves; reads on `fd` before that fail with EPERM.
 */
export async function mountFuse(mountPoint: string, fd: number, options: FuseMountOptions): Promise<MountEntry> {
  const opts = [
    'fd=3',
    // S_IFDIR in octal; the root's real attributes come from GETATTR.
    'rootmode=40000',
    `user_id=${process.getuid?.() ?? 0}`,
    `group_id=${process.getgid?.() ?? 0}`,
    `max_read=${options.maxReadBytes}`,
    ...(options.allowOther ? ['allow_other'] : []),
    ...(options.defaultPermissions ? ['default_permissions'] : []),
  ];
  // -i: call mount(2) directly, not a /sbin/mount.fuse.dfs helper. The fd travels as the child's fd 3.
  // The subtype comes from the type name; a subtype= option as well would make the kernel refuse the mount.
  const result = await run('mount', ['-i', '-t', FUSE_FS_TYPE, '-o', opts.join(','), options.fsname, mountPoint], fd);
  if (result.code !== 0) {
    throw new DfsError('INTERNAL', `mount of ${mountPoint} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  const mounted = await findMount(mountPoint);
  if (mounted === undefined || mounted.fsType !== FUSE_FS_TYPE) {
    throw new DfsError('INTERNAL', `mount(8) succeeded but ${mountPoint} is not a ${FUSE_FS_TYPE} mount`);
  }
  return mounted;
}

export type UnmountResult = 'unmounted' | 'detached' | 'not-mounted';

/**
 * Takes a FUSE mount off `mountPoint` (the one of connection `device`, else
 * the topmost): umount(8), or a lazy `umount -l` when that fails (busy: open
 * files or a working directory inside). A detached mount stays usable by
 * whoever holds it, and its connection ends when they let go.
 */
export async function unmountFuse(mountPoint: string, logger: Logger, device?: string): Promise<UnmountResult> {
  const here = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint === mountPoint);
  const top = here.at(-1);
  if (device !== undefined) {
    if (!here.some((m) => m.device === device)) return 'not-mounted';
    if (top?.device !== device) throw new DfsError('INTERNAL', `${mountPoint}: connection ${device} is covered by another mount (${top?.device})`);
  }
  if (top === undefined || !isFuse(top)) return 'not-mounted';
  const plain = await run('umount', [mountPoint]);
  if (plain.code === 0) return 'unmounted';
  logger.info({ mountPoint, stderr: plain.stderr.trim() }, 'umount failed; detaching lazily');
  const lazy = await run('umount', ['-l', mountPoint]);
  if (lazy.code === 0) return 'detached';
  throw new DfsError('INTERNAL', `umount -l ${mountPoint} failed (exit ${lazy.code}): ${lazy.stderr.trim()}`);
}

/**
 * `dfs umount`: takes the FUSE mount off `mountPoint` from outside its
 * server (which then sees its connection end and exits). Without `lazy`, a
 * busy mount stays and this fails; with it, the mount is detached at once.
 */
export async function unmount(mountPoint: string, options: { lazy: boolean }): Promise<void> {
  const canonical = await canonicalMountPoint(mountPoint);
  const mounted = await findMount(canonical);
  if (mounted === undefined || !isFuse(mounted)) throw new DfsError('NOT_FOUND', `${canonical} is not a FUSE mount`);
  const result = await run('umount', options.lazy ? ['-l', canonical] : [canonical]);
  if (result.code !== 0) throw new DfsError('INTERNAL', `umount ${canonical} failed (exit ${result.code}): ${result.stderr.trim()}`);
}

/**
 * Makes `mountPoint` mountable again after a server died: a FUSE mount whose
 * connection is gone answers everything with ENOTCONN and is taken off. A
 * live mount is left alone (ALREADY_EXISTS), and so is one that does not
 * answer within a few seconds (UNAVAILABLE: abort its connection first).
 * Returns whether a stale mount was cleared.
 */
export async function clearStaleMount(mountPoint: string, logger: Logger): Promise<boolean> {
  let cleared = false;
  // Mounts may be stacked on one point (repeated crashes): peel every dead one.
  for (let mounted = await findMount(mountPoint); mounted !== undefined && isFuse(mounted); mounted = await findMount(mountPoint)) {
    const probe = await probeMount(mountPoint);
    if (probe === 'live') throw new DfsError('ALREADY_EXISTS', `${mountPoint} is already a live FUSE mount (${mounted.fsType})`);
    if (probe === 'unresponsive') {
      throw new DfsError('UNAVAILABLE', `${mountPoint} is a FUSE mount that does not answer; abort connection ${mounted.device} first`);
    }
    logger.warn({ mountPoint, device: mounted.device }, 'clearing a stale FUSE mount left by a dead server');
    await unmountFuse(mountPoint, logger);
    cleared = true;
  }
  return cleared;
}

/**
 * Aborts a FUSE connection through fusectl: every pending and future request
 * fails with ECONNABORTED/ENOTCONN and the server's reads end. The way out
 * for a wedged server or a detached mount that someone keeps busy. Mounts
 * fusectl first if the system has not (that mount is left in place: it is
 * the standard one and shared by every FUSE user).
 */
export async function abortConnection(device: string, logger: Logger): Promise<void> {
  const [major, minor] = device.split(':').map(Number);
  if (major === undefined || minor === undefined || !Number.isInteger(major) || !Number.isInteger(minor)) {
    throw new DfsError('INVALID_ARGUMENT', `not a device number: ${device}`);
  }
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  if (!mounts.some((m) => m.fsType === 'fusectl')) {
    const result = await run('mount', ['-t', 'fusectl', 'fusectl', FUSECTL_DIR]);
    if (result.code !== 0) throw new DfsError('INTERNAL', `cannot mount fusectl: ${result.stderr.trim()}`);
  }
  // fusectl names each connection by its dev_t as the kernel encodes it (major << 20 | minor).
  const connection = join(FUSECTL_DIR, String(major * 2 ** 20 + minor));
  try {
    await writeFile(join(connection, 'abort'), '1');
    logger.warn({ device }, 'aborted FUSE connection');
  } catch (err) {
    // The connection ended on its own in the meantime: nothing left to abort.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Sets the readahead of the mount's backing device. INIT can only lower the
 * kernel's (128 KiB unless the system is tuned), and reads of 1 MiB ahead
 * halve the server's CPU per GB of sequential reads: this raises it.
 */
export async function setReadahead(device: string, bytes: number): Promise<void> {
  await writeFile(join('/sys/class/bdi', device, 'read_ahead_kb'), String(Math.ceil(bytes / 1024)));
}

function isFuse(m: MountEntry): boolean {
  return m.fsType === 'fuse' || m.fsType.startsWith('fuse.');
}

/** A stat of the mount's root: ENOTCONN means its server is gone. */
async function probeMount(mountPoint: string): Promise<'live' | 'dead' | 'unresponsive'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unresponsive'>((resolvePromise) => {
    timer = setTimeout(() => resolvePromise('unresponsive'), STALE_PROBE_TIMEOUT_MS);
  });
  const probe = stat(mountPoint).then(
    () => 'live' as const,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOTCONN' || err.code === 'ECONNABORTED' ? ('dead' as const) : ('live' as const)),
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command to completion; `fd` (if given) becomes the child's fd 3. */
function run(command: string, args: string[], fd?: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', ...(fd === undefined ? [] : [fd])] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal === null ? -1 : 128), stderr }));
  });
}
