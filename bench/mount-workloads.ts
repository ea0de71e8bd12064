import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * What the mount benchmarks (`fuse`, `vs-moosefs`) do to a mount point, the
 * same for ours and for the MooseFS peer, and how they bring that peer up
 * and find its processes.
 */

export const run = promisify(execFile);

/** The peer's script, found from dist/bench/ as ../shared/peers/ beside the repository (as moosefs.sh is kept). */
export const MOOSEFS_SCRIPT = new URL('../../../shared/peers/moosefs.sh', import.meta.url).pathname;
export const MOOSEFS_MOUNT = '/tmp/mfs-peer/mnt';

/** dd's progress and apt-get's output can be long: never let a full pipe fail a run. */
const MAX_OUTPUT_BYTES = 1 << 24;

export const MIB = 1024 * 1024;

// The same script moosefs.sh uses for its metadata figures, run on either mount.
const META_SCRIPT = `
const fs = require("fs"), dir = process.argv[2], n = +process.argv[3];
const names = []; for (let i = 0; i < n; i++) names.push(dir + "/f" + i);
const t = () => Number(process.hrtime.bigint()) / 1e9;
let a = t(); for (const p of names) fs.closeSync(fs.openSync(p, "w")); const c = n / (t() - a);
a = t(); for (const p of names) fs.statSync(p); const s = n / (t() - a);
a = t(); for (const p of names) fs.unlinkSync(p); const u = n / (t() - a);
console.log(c, s, u);`;

export interface MetadataRates {
  createsPerSecond: number;
  statsPerSecond: number;
  unlinksPerSecond: number;
}

/** Creates, stats and unlinks `files` empty files in a new directory `dir`, one call at a time, then removes it. */
export async function runMetaScript(dir: string, files: number): Promise<MetadataRates> {
  await mkdir(dir);
  const script = join(tmpdir(), `dfs-bench-meta-${process.pid}.cjs`);
  await writeFile(script, META_SCRIPT);
  try {
    const out = (await run(process.execPath, [script, dir, String(files)])).stdout.trim().split(' ').map(Number);
    return { createsPerSecond: out[0]!, statsPerSecond: out[1]!, unlinksPerSecond: out[2]! };
  } finally {
    await rm(script, { force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `mib` MiB of `source` (/dev/zero, /dev/urandom) to `file` with dd, 1 MiB blocks, fsync'ed before dd exits. */
export async function ddWrite(file: string, mib: number, source = '/dev/zero'): Promise<void> {
  await run('dd', [`if=${source}`, `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { maxBuffer: MAX_OUTPUT_BYTES });
}

/** Reads `file` to the end with dd, 1 MiB blocks. */
export async function ddRead(file: string): Promise<void> {
  await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M'], { maxBuffer: MAX_OUTPUT_BYTES });
}

/** Flushes dirty pages and empties the page cache, so that a read goes to the file system, not to memory. */
export async function dropCaches(): Promise<void> {
  await run('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

export async function moosefsUp(): Promise<void> {
  await run('bash', [MOOSEFS_SCRIPT, 'up'], { maxBuffer: MAX_OUTPUT_BYTES });
}

export async function moosefsDown(): Promise<void> {
  await run('bash', [MOOSEFS_SCRIPT, 'down'], { maxBuffer: MAX_OUTPUT_BYTES });
}

export interface MoosefsProcesses {
  master: number[];
  chunkservers: number[];
  mount: number[];
}

/** The peer's daemons by role: mfsmaster, mfschunkserver, mfsmount (matched on the executable's name, so no shell that names them counts). */
export async function moosefsProcesses(): Promise<MoosefsProcesses> {
  const found = (await pgrep('mfs(master|chunkserver|mount)')).filter((pid) => pid !== process.pid);
  const byRole: MoosefsProcesses = { master: [], chunkservers: [], mount: [] };
  for (const pid of found) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch (err) {
      // Gone between pgrep and here (pgrep's own shell, say): not a daemon.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (comm === 'mfsmaster') byRole.master.push(pid);
    else if (comm === 'mfschunkserver') byRole.chunkservers.push(pid);
    else if (comm === 'mfsmount') byRole.mount.push(pid);
  }
  return byRole;
}

/** Pids whose command line matches `pattern`; none is an empty list (pgrep's exit status 1), not an error. */
async function pgrep(pattern: string): Promise<number[]> {
  try {
    return (await run('pgrep', ['-f', pattern])).stdout.split('\n').filter(Boolean).map(Number);
  } catch (err) {
    if ((err as { code?: unknown }).code === 1) return [];
    throw err;
  }
}
