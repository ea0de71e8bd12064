import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startMountedCluster } from './mounted-cluster.js';
import { MIB, MOOSEFS_MOUNT, ddRead, ddWrite, dropCaches, moosefsDown, moosefsProcesses, moosefsUp, runMetaScript } from './mount-workloads.js';
import { measureCpu, median } from './process-cpu.js';

const MB = 1e6;
const GB = 1e9;

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

/**
 * Through a FUSE mount: dd of one large file with 1 MiB blocks (write with
 * conv=fsync, then read with the page cache dropped), and create, stat and
 * unlink of many small files. Our mount over a local cluster (3 masters,
 * 3 chunkservers, 3 replicas), and with --vs moosefs the MooseFS peer
 * (../shared/peers/moosefs.sh: 1 master, 3 chunkservers, goal 3) in the same
 * run; medians of `runs`, ratios ours / MooseFS (above 1 is better for us).
 */
export async function runFuseBench(options: FuseBenchOptions): Promise<void> {
  const ours = await startMountedCluster({ masters: 3, chunkservers: 3, chunkSizeBytes: 64 * MIB });
  try {
    const figures = await measure(join(ours.mountPoint, 'bench'), [ours.mountPid, ...ours.cluster.processes.map((p) => p.pid)], options);
    report('dfs', figures, options.print);
    if (options.vsMoosefs) {
      await moosefsUp();
      try {
        const peer = await moosefsProcesses();
        const theirs = await measure(join(MOOSEFS_MOUNT, 'dfs-bench'), [...peer.master, ...peer.chunkservers, ...peer.mount], options);
        report('moosefs', theirs, options.print);
        for (const key of Object.keys(figures) as (keyof Figures)[]) {
          // CPU per GB is better when lower: the ratio is theirs / ours.
          const ratio = key === 'writeCpuSecondsPerGB' ? theirs[key] / figures[key] : figures[key] / theirs[key];
          options.print(`ratio_${FIGURE_NAMES[key]}`, ratio, 'x');
        }
      } finally {
        await moosefsDown();
      }
    }
  } finally {
    await ours.stop();
  }
}

async function measure(dir: string, pids: number[], options: FuseBenchOptions): Promise<Figures> {
  await mkdir(dir, { recursive: true });
  const runs: Figures[] = [];
  const count = Math.ceil(options.fileBytes / MIB);
  const bytes = count * MIB;
  for (let r = 0; r < options.runs; r++) {
    const file = join(dir, `seq-${r}`);
    const written = await measureCpu(pids, () => ddWrite(file, count));
    await dropCaches();
    const read = await measureCpu([], () => ddRead(file));
    await rm(file);
    const meta = await runMetaScript(join(dir, `meta-${r}`), options.files);
    runs.push({
      writeMBps: bytes / MB / written.wallSeconds,
      readMBps: bytes / MB / read.wallSeconds,
      writeCpuSecondsPerGB: written.cpuSeconds / (bytes / GB),
      ...meta,
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
