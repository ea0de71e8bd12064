import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DfsClient } from '../client-lib/index.js';
import { dfsRecordAppendsPerSecond, posixAppendsPerSecond, type AppendOptions } from './append-workload.js';
import { dataBlock, readThroughClient, writeThroughClient } from './client-stream.js';
import { ensureFio, fioRandomReadIops } from './fio.js';
import { measureMasterMemory } from './master-memory.js';
import { startMountedCluster, type MountedCluster } from './mounted-cluster.js';
import { MIB, MOOSEFS_MOUNT, MOOSEFS_SCRIPT, ddRead, ddWrite, dropCaches, moosefsDown, moosefsProcesses, moosefsUp, runMetaScript } from './mount-workloads.js';
import { diskDirectWriteMBps, loopbackTcpMBps } from './physical-limits.js';
import { measureCpu, median } from './process-cpu.js';
import { RssSampler } from './rss-sampler.js';

export interface VsMoosefsOptions {
  /** Bytes of the sequential file (client library and dd). */
  fileBytes: number;
  /** Bytes of the file fio reads at random, and how long each fio run lasts. */
  fioFileBytes: number;
  fioSeconds: number;
  /** Files created, stat-ed and unlinked through each mount. */
  files: number;
  runs: number;
  appenders: number;
  appendsPerClient: number;
  /** Bytes dd writes to the local disk with O_DIRECT, and how long the loopback stream runs. */
  diskBytes: number;
  loopbackSeconds: number;
  /** Files (of 2 chunks each) loaded into a state machine to measure the master's memory. */
  metaFiles: number;
  masters: number;
  /** Extra node arguments for our servers and mount, e.g. "--cpu-prof --cpu-prof-dir=prof". */
  nodeArgs: string[];
  /** Our cluster in plaintext with no authentication, as MooseFS runs, instead of mutual TLS. */
  insecure: boolean;
  print: (name: string, value: number, unit: string) => void;
  log: (line: string) => void;
}

const MB = 1e6;
const REPLICAS = 3;
const CHUNKS_PER_FILE = 2;

/** Every per-system figure, printed as `dfs_<name>` and `moosefs_<name>`. */
type FigureName =
  | 'lib_write' | 'lib_read' | 'lib_write_cpu'
  | 'dd_write' | 'dd_read' | 'write_cpu'
  | 'randread_4k'
  | 'creates' | 'stats' | 'unlinks'
  | 'appends' | 'appends_unsynced'
  | 'master_rss_max' | 'chunkserver_rss_max' | 'mount_rss_max';

interface FigureSpec {
  unit: string;
  /** Which way is better, so that every ratio reads "above 1: we are better". */
  better: 'higher' | 'lower';
  /** The MooseFS figure ours is compared with when MooseFS has none of the same kind (no client library). */
  against?: FigureName;
}

/** In the order printed. */
const FIGURES: Readonly<Record<FigureName, FigureSpec>> = {
  lib_write: { unit: 'MB/s', better: 'higher', against: 'dd_write' },
  lib_read: { unit: 'MB/s', better: 'higher', against: 'dd_read' },
  lib_write_cpu: { unit: 'cpu-s/GiB', better: 'lower', against: 'write_cpu' },
  dd_write: { unit: 'MB/s', better: 'higher' },
  dd_read: { unit: 'MB/s', better: 'higher' },
  write_cpu: { unit: 'cpu-s/GiB', better: 'lower' },
  randread_4k: { unit: 'IOPS', better: 'higher' },
  creates: { unit: 'ops/s', better: 'higher' },
  stats: { unit: 'ops/s', better: 'higher' },
  unlinks: { unit: 'ops/s', better: 'higher' },
  appends: { unit: 'appends/s', better: 'higher' },
  appends_unsynced: { unit: 'appends/s', better: 'higher' },
  master_rss_max: { unit: 'MiB', better: 'lower' },
  chunkserver_rss_max: { unit: 'MiB', better: 'lower' },
  mount_rss_max: { unit: 'MiB', better: 'lower' },
};

type System = 'dfs' | 'moosefs';
/** Every run's value of each figure a system produced; the median is reported. */
type Samples = Partial<Record<FigureName, number[]>>;
type RssGroup = 'master' | 'chunkserver' | 'mount';

function add(samples: Samples, name: FigureName, value: number): void {
  (samples[name] ??= []).push(value);
}

/**
 * `npm run bench -- vs-moosefs`, the measurement of the performance issue:
 * the physical limits of this machine, then our cluster (masters,
 * 3 chunkservers, 3 replicas, our mount), then, ours stopped, the MooseFS
 * peer (moosefs.sh: 1 master, 3 chunkservers, goal 3, mfsmount), the same
 * workloads through both mounts, and last the master's memory for many
 * files with nothing else running. One system runs at a time. Prints one
 * table: medians of `runs`, and ratio_<figure> oriented so that above 1
 * means we are better.
 */
export async function runVsMoosefsBench(options: VsMoosefsOptions): Promise<void> {
  await ensureFio();
  const physical = await measurePhysicalLimits(options);
  const ours: Samples = {};
  const theirs: Samples = {};
  let failure: unknown;
  try {
    await measureOurs(options, ours);
    await measureMoosefs(options, theirs);
  } catch (err) {
    // What was measured before the failure is still printed.
    failure = err;
  }
  printTable(options, physical, ours, theirs);
  if (failure !== undefined) throw failure;
  options.log(`master memory: ${options.metaFiles} files of ${CHUNKS_PER_FILE} chunks loaded into a state machine`);
  const memory = await measureMasterMemory(options.metaFiles, CHUNKS_PER_FILE, REPLICAS);
  options.print('dfs_master_memory_files', memory.report.files, 'files');
  options.print('dfs_master_bytes_per_file', memory.bytesPerFile, 'bytes');
  options.print('dfs_master_bytes_per_chunk', memory.bytesPerChunk, 'bytes');
  options.print('dfs_master_heap_bytes_per_file', memory.heapBytesPerFile, 'bytes');
  options.print('dfs_master_locations_bytes_per_chunk', memory.locationBytesPerChunk, 'bytes');
}

interface PhysicalLimits {
  diskDirectWriteMBps: number;
  loopbackTcpMBps: number;
}

async function measurePhysicalLimits(options: VsMoosefsOptions): Promise<PhysicalLimits> {
  const disk: number[] = [];
  const loopback: number[] = [];
  for (let r = 0; r < options.runs; r++) {
    options.log(`physical limits, run ${r + 1}/${options.runs}`);
    disk.push(await diskDirectWriteMBps(options.diskBytes));
    loopback.push(await loopbackTcpMBps(options.loopbackSeconds));
  }
  return { diskDirectWriteMBps: median(disk), loopbackTcpMBps: median(loopback) };
}

/** Our cluster and mount: the client library first (the mount idle), then the mount workloads; the cluster stopped at the end whatever happens. */
async function measureOurs(options: VsMoosefsOptions, samples: Samples): Promise<void> {
  options.log(`dfs: starting ${options.masters} masters, ${REPLICAS} chunkservers and a mount, ${options.insecure ? 'in plaintext' : 'with mutual TLS'}`);
  const cluster = await startMountedCluster({ masters: options.masters, chunkservers: REPLICAS, chunkSizeBytes: 64 * MIB, nodeArgs: options.nodeArgs, insecure: options.insecure });
  const stopOnSignal = onInterrupt(() => cluster.stop());
  const pidsOf = (role: 'master' | 'chunkserver') => cluster.cluster.processes.filter((p) => p.role === role).map((p) => p.pid);
  const rss = new RssSampler<RssGroup>({ master: pidsOf('master'), chunkserver: pidsOf('chunkserver'), mount: [cluster.mountPid] });
  rss.start();
  try {
    await measureClientLibrary(options, cluster, samples);
    const serverPids = cluster.cluster.processes.map((p) => p.pid);
    await measureMount('dfs', join(cluster.mountPoint, 'bench'), [cluster.mountPid, ...serverPids], options, samples, (r, appends) =>
      dfsRecordAppendsPerSecond(cluster.cluster.masters, cluster.cluster.security, `/appends-${r}`, appends).then((rate) => {
        add(samples, 'appends', rate);
      }),
    );
  } finally {
    recordRss(rss.stop(), samples);
    stopOnSignal();
    await cluster.stop();
  }
}

/**
 * Sequential write and read through DfsClient in this process; CPU counts
 * this process (the client) and every server. Caches are dropped before the
 * read, so the chunkservers read from disk as MooseFS's do under dd.
 */
async function measureClientLibrary(options: VsMoosefsOptions, cluster: MountedCluster, samples: Samples): Promise<void> {
  const client = await DfsClient.connect({ masters: cluster.cluster.masters, security: cluster.cluster.security });
  try {
    const pids = [process.pid, ...cluster.cluster.processes.map((p) => p.pid)];
    const block = dataBlock();
    for (let r = 0; r < options.runs; r++) {
      options.log(`dfs: client library, run ${r + 1}/${options.runs}`);
      const path = `/lib-${r}`;
      const written = await measureCpu(pids, () => writeThroughClient(client, path, options.fileBytes, block));
      add(samples, 'lib_write', options.fileBytes / MB / written.wallSeconds);
      add(samples, 'lib_write_cpu', written.cpuSeconds / (options.fileBytes / (1024 * MIB)));
      await dropCaches();
      const read = await measureCpu([], () => readThroughClient(client, path, options.fileBytes));
      add(samples, 'lib_read', options.fileBytes / MB / read.wallSeconds);
      await client.delete(path);
    }
  } finally {
    client.close();
  }
}

/** The MooseFS peer, brought up after ours is down and taken down whatever happens. */
async function measureMoosefs(options: VsMoosefsOptions, samples: Samples): Promise<void> {
  // A peer already up is someone else's (or a leftover): measuring it, then taking it down, would be wrong either way.
  const running = await moosefsProcesses();
  if (running.master.length + running.chunkservers.length + running.mount.length > 0) {
    throw new Error(`MooseFS is already running (pids ${[...running.master, ...running.chunkservers, ...running.mount].join(' ')}): if it is yours, bash ${MOOSEFS_SCRIPT} down`);
  }
  options.log('moosefs: bringing the peer up (moosefs.sh up)');
  const stopOnSignal = onInterrupt(moosefsDown);
  try {
    await moosefsUp();
    const peer = await moosefsProcesses();
    // mfsmaster runs a child of the same name (its "data writer", which stores the metadata), so there are two.
    if (peer.master.length < 1 || peer.chunkservers.length !== REPLICAS || peer.mount.length !== 1) {
      throw new Error(`moosefs.sh up left ${peer.master.length} masters, ${peer.chunkservers.length} chunkservers and ${peer.mount.length} mounts running`);
    }
    const rss = new RssSampler<RssGroup>({ master: peer.master, chunkserver: peer.chunkservers, mount: peer.mount });
    rss.start();
    try {
      const dir = join(MOOSEFS_MOUNT, 'dfs-bench-vs');
      await measureMount('moosefs', dir, [...peer.master, ...peer.chunkservers, ...peer.mount], options, samples, async (r, appends) => {
        add(samples, 'appends', await posixAppendsPerSecond(join(dir, `appends-${r}`), { ...appends, sync: true }));
        add(samples, 'appends_unsynced', await posixAppendsPerSecond(join(dir, `appends-unsynced-${r}`), { ...appends, sync: false }));
      });
    } finally {
      recordRss(rss.stop(), samples);
    }
  } finally {
    stopOnSignal();
    options.log('moosefs: taking the peer down (moosefs.sh down)');
    await moosefsDown();
  }
}

/**
 * The workloads both mounts run, `runs` times: dd write (CPU of `pids`, the
 * system's every process) and read, fio random reads, create/stat/unlink,
 * and the system's appends (`appendsFor`). Everything goes in `dir`, removed
 * at the end.
 */
async function measureMount(
  system: System,
  dir: string,
  pids: number[],
  options: VsMoosefsOptions,
  samples: Samples,
  appendsFor: (run: number, appends: AppendOptions) => Promise<void>,
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const seqMiB = Math.ceil(options.fileBytes / MIB);
  const fioMiB = Math.ceil(options.fioFileBytes / MIB);
  const randomFile = join(dir, 'random');
  // Random bytes, so that no layer can make little of them; laid out once, read in every run.
  await ddWrite(randomFile, fioMiB, '/dev/urandom');
  for (let r = 0; r < options.runs; r++) {
    options.log(`${system}: mount, run ${r + 1}/${options.runs}`);
    const file = join(dir, `seq-${r}`);
    const written = await measureCpu(pids, () => ddWrite(file, seqMiB));
    add(samples, 'dd_write', (seqMiB * MIB) / MB / written.wallSeconds);
    add(samples, 'write_cpu', written.cpuSeconds / (seqMiB / 1024));
    await dropCaches();
    const read = await measureCpu([], () => ddRead(file));
    add(samples, 'dd_read', (seqMiB * MIB) / MB / read.wallSeconds);
    await rm(file);
    await dropCaches();
    add(samples, 'randread_4k', await fioRandomReadIops(randomFile, fioMiB * MIB, options.fioSeconds));
    const meta = await runMetaScript(join(dir, `meta-${r}`), options.files);
    add(samples, 'creates', meta.createsPerSecond);
    add(samples, 'stats', meta.statsPerSecond);
    add(samples, 'unlinks', meta.unlinksPerSecond);
    await appendsFor(r, { clients: options.appenders, appendsPerClient: options.appendsPerClient });
  }
  await rm(dir, { recursive: true, force: true });
}

function recordRss(peaks: Record<RssGroup, number>, samples: Samples): void {
  add(samples, 'master_rss_max', peaks.master / MIB);
  add(samples, 'chunkserver_rss_max', peaks.chunkserver / MIB);
  add(samples, 'mount_rss_max', peaks.mount / MIB);
}

function printTable(options: VsMoosefsOptions, physical: PhysicalLimits, ours: Samples, theirs: Samples): void {
  const { print } = options;
  const seqTargetMBps = physical.diskDirectWriteMBps / REPLICAS;
  print('disk_direct_write', physical.diskDirectWriteMBps, 'MB/s');
  print('loopback_tcp', physical.loopbackTcpMBps, 'MB/s');
  print('seq_target', seqTargetMBps, 'MB/s');
  for (const name of Object.keys(FIGURES) as FigureName[]) {
    const spec = FIGURES[name];
    const mine = ours[name] === undefined ? undefined : median(ours[name]);
    const other = theirs[spec.against ?? name];
    const peer = other === undefined ? undefined : median(other);
    if (mine !== undefined) print(`dfs_${name}`, mine, spec.unit);
    if (theirs[name] !== undefined) print(`moosefs_${name}`, median(theirs[name]), spec.unit);
    if (mine !== undefined && peer !== undefined) print(`ratio_${name}`, spec.better === 'higher' ? mine / peer : peer / mine, 'x');
  }
  // The target: sequential throughput within 2x of disk / replicas, so at least 0.5 here.
  const ddWrite = ours.dd_write;
  if (ddWrite !== undefined) print('ratio_dd_write_to_seq_target', median(ddWrite) / seqTargetMBps, 'x');
}

/**
 * Runs `cleanup` if the benchmark is interrupted (Ctrl-C, SIGTERM) while a
 * system is up, so that no mount or daemon is left behind, then exits.
 * Returns the function that removes the handler once the system is down.
 */
function onInterrupt(cleanup: () => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    process.stderr.write(`# ${signal}: cleaning up\n`);
    cleanup().then(
      () => process.exit(130),
      (err: unknown) => {
        process.stderr.write(`# cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
