import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCluster } from '../cli/cluster-commands.js';
import { launch, terminate } from '../cli/process-launcher.js';
import { measureCpu, median } from './process-cpu.js';

const run = promisify(execFile);
const MB = 1e6;
const GB = 1e9;
const MOOSEFS = new URL('../../../shared/peers/moosefs.sh', import.meta.url).pathname;
const MOOSEFS_MOUNT = '/tmp/mfs-peer/mnt';

export interface FuseBenchOptions {
  fileBytes: number;
  files: number;
  runs: number;
  vsMoosefs: boolean;
  print: (name: string, value: number, unit: string) => void;
}

interface Figures {
  writeMBps: number;
  readMBps: number;
  writeCpuSecondsPerGB: number;
  createsPerSecond: number;
  statsPerSecond: number;
  unlinksPerSecond: number;
}

// The same script moosefs.sh uses for its metadata figures, run on either mount.
const META_SCRIPT = `
const fs = require("fs"), dir = process.argv[2], n = +process.argv[3];
const names = []; for (let i = 0; i < n; i++) names.push(dir + "/f" + i);
const t = () => Number(process.hrtime.bigint()) / 1e9;
let a = t(); for (const p of names) fs.closeSync(fs.openSync(p, "w")); const c = n / (t() - a);
a = t(); for (const p of names) fs.statSync(p); const s = n / (t() - a);
a = t(); for (const p of names) fs.unlinkSync(p); const u = n / (t() - a);
console.log(c, s, u);`;

/**
 * Through a FUSE mount: dd of one large file with 1 MiB blocks (write with
 * conv=fsync, then read with the page cache dropped), and create, stat and
 * unlink of many small files. Our mount over a local cluster (3 masters,
 * 3 chunkservers, 3 replicas), and with --vs moosefs the MooseFS peer
 * (../shared/peers/moosefs.sh: 1 master, 3 chunkservers, goal 3) in the same
 * run; medians of `runs`, ratios ours / MooseFS (above 1 is better for us).
 */
export async function runFuseBench(options: FuseBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-fuse-'));
  const mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint);
  const cluster = await startCluster({
    dir,
    masters: 3,
    chunkservers: 3,
    chunkSizeBytes: 64 * 1024 * 1024,
    detach: false,
    masterArgs: ['--log-level', 'warn'],
    chunkserverArgs: ['--log-level', 'warn', '--scrub-interval-ms', '0'],
  });
  let mountPid: number | undefined;
  try {
    const mount = await launch({
      role: 'mount',
      args: [mountPoint, '--masters', cluster.masters.join(','), '--dir', dir, '--log-level', 'warn'],
      readyFile: join(dir, 'mount.ready'),
      logFile: join(dir, 'mount.log'),
      detached: false,
    });
    mountPid = mount.pid;
    const ours = await measure(join(mountPoint, 'bench'), [mount.pid, ...cluster.processes.map((p) => p.pid)], options);
    report('dfs', ours, options.print);
    if (options.vsMoosefs) {
      await run('bash', [MOOSEFS, 'up'], { maxBuffer: 1 << 24 });
      try {
        const pids = (await run('pgrep', ['-f', 'mfs(master|chunkserver|mount)'])).stdout.split('\n').filter(Boolean).map(Number);
        const theirs = await measure(join(MOOSEFS_MOUNT, 'dfs-bench'), pids, options);
        report('moosefs', theirs, options.print);
        for (const key of Object.keys(ours) as (keyof Figures)[]) {
          // CPU per GB is better when lower: the ratio is theirs / ours.
          const ratio = key === 'writeCpuSecondsPerGB' ? theirs[key] / ours[key] : ours[key] / theirs[key];
          options.print(`ratio_${FIGURE_NAMES[key]}`, ratio, 'x');
        }
      } finally {
        await run('bash', [MOOSEFS, 'down'], { maxBuffer: 1 << 24 });
      }
    }
  } finally {
    if (mountPid !== undefined) await terminate(mountPid, 10_000);
    await Promise.all(cluster.processes.map((p) => terminate(p.pid, 5_000)));
    await run('umount', ['-l', mountPoint]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string, pids: number[], options: FuseBenchOptions): Promise<Figures> {
  await mkdir(dir, { recursive: true });
  const runs: Figures[] = [];
  const count = Math.ceil(options.fileBytes / (1024 * 1024));
  const bytes = count * 1024 * 1024;
  for (let r = 0; r < options.runs; r++) {
    const file = join(dir, `seq-${r}`);
    const written = await measureCpu(pids, () => run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${count}`, 'conv=fsync']));
    await dropCaches();
    const read = await measureCpu([], () => run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M']));
    await rm(file);
    const metaDir = join(dir, `meta-${r}`);
    await mkdir(metaDir);
    const script = join(tmpdir(), `dfs-bench-meta-${process.pid}.cjs`);
    await writeFile(script, META_SCRIPT);
    const out = (await run(process.execPath, [script, metaDir, String(options.files)])).stdout.trim().split(' ').map(Number);
    await rm(script);
    await rm(metaDir, { recursive: true });
    runs.push({
      writeMBps: bytes / MB / written.wallSeconds,
      readMBps: bytes / MB / read.wallSeconds,
      writeCpuSecondsPerGB: written.cpuSeconds / (bytes / GB),
      createsPerSecond: out[0]!,
      statsPerSecond: out[1]!,
      unlinksPerSecond: out[2]!,
    });
  }
  await rm(dir, { recursive: true, force: true });
  const pick = (key: keyof Figures) => median(runs.map((f) => f[key]));
  return {
    writeMBps: pick('writeMBps'),
    readMBps: pick('readMBps'),
    writeCpuSecondsPerGB: pick('writeCpuSecondsPerGB'),
    createsPerSecond: pick('createsPerSecond'),
    statsPerSecond: pick('statsPerSecond'),
    unlinksPerSecond: pick('unlinksPerSecond'),
  };
}

async function dropCaches(): Promise<void> {
  await run('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

function report(system: string, f: Figures, print: FuseBenchOptions['print']): void {
  const units: Record<keyof Figures, string> = {
    writeMBps: 'MB/s',
    readMBps: 'MB/s',
    writeCpuSecondsPerGB: 'cpu-s/GB',
    createsPerSecond: 'ops/s',
    statsPerSecond: 'ops/s',
    unlinksPerSecond: 'ops/s',
  };
  for (const key of Object.keys(units) as (keyof Figures)[]) print(`${system}_${FIGURE_NAMES[key]}`, f[key], units[key]);
}

const FIGURE_NAMES: Record<keyof Figures, string> = {
  writeMBps: 'dd_write',
  readMBps: 'dd_read',
  writeCpuSecondsPerGB: 'write_cpu',
  createsPerSecond: 'creates',
  statsPerSecond: 'stats',
  unlinksPerSecond: 'unlinks',
};
