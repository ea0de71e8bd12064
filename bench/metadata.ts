import type { ClientSecurity } from '../client-lib/client-options.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsClient } from '../client-lib/index.js';
import type { ClusterFile } from '../cli/cluster-file.js';
import { terminate } from '../cli/process-launcher.js';
import { startCluster } from '../cli/cluster-commands.js';
import type { MetadataWorkerCommand, MetadataWorkerEvent, Phase } from './metadata-worker.js';
import { machineBusySeconds, processCpuSeconds } from './process-cpu.js';
import { WorkerProcess } from './worker-process.js';

export interface MetadataBenchOptions {
  masters: number;
  /** DfsClient instances, spread over `workers` processes. */
  clients: number;
  workers: number;
  /** Calls each client keeps in flight. */
  depth: number;
  /** Ops per phase, over all clients. */
  ops: number;
  /** Which client modes to measure: coalescing on, off, or both (on first). */
  batching: 'on' | 'off' | 'both';
  phases: Phase[];
  nodeArgs: string[];
  print: (name: string, value: number, unit: string) => void;
}

type Worker = WorkerProcess<MetadataWorkerCommand, MetadataWorkerEvent>;

const READY_MS = 60_000;
const PHASE_TIMEOUT_MS = 600_000;

/**
 * Metadata throughput through a real Raft group of masters (no
 * chunkservers: no op here touches data). `clients` DfsClients in `workers`
 * processes of their own, each with `depth` calls in flight, run each phase
 * (mkdir, create, stat, rename) in directories of their own. Per phase:
 * ops/s; CPU-seconds per 1000 ops summed over every process (masters,
 * client processes and this one), then split masters / clients; and the
 * cores the leader, the masters and the clients kept busy, beside what the
 * rest of the machine used meanwhile (on a shared machine, other work takes
 * cores from the benchmark: read rates with it).
 */
export async function runMetadataBench(options: MetadataBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-meta-'));
  try {
    const cluster = await startCluster({
      dir,
      masters: options.masters,
      chunkservers: 0,
      chunkSizeBytes: 64 * 1024 * 1024,
      detach: false,
      masterArgs: ['--log-level', 'warn'],
      nodeArgs: options.nodeArgs,
    });
    try {
      await measure(cluster, options);
    } finally {
      await Promise.all(cluster.processes.map((p) => terminate(p.pid)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(cluster: ClusterFile, options: MetadataBenchOptions): Promise<void> {
  const masterPids = cluster.processes.filter((p) => p.role === 'master').map((p) => p.pid);
  const setup = await DfsClient.connect({ masters: cluster.masters, security: cluster.security });
  try {
    const modes = options.batching === 'both' ? [true, false] : [options.batching === 'on'];
    for (const batching of modes) {
      const root = `/bench-${batching ? 'batched' : 'unbatched'}`;
      await setup.mkdir(root);
      await Promise.all(Array.from({ length: options.clients }, (_, c) => setup.mkdir(`${root}/c${c}`)));
      const workers = await startWorkers(cluster.masters, cluster.security, options, batching);
      try {
        await runPhases(workers, root, masterPids, options, batching ? '' : '_unbatched');
      } finally {
        await stopWorkers(workers);
      }
    }
  } finally {
    setup.close();
  }
}

async function runPhases(workers: Worker[], root: string, masterPids: number[], options: MetadataBenchOptions, suffix: string): Promise<void> {
  const clientPids = [process.pid, ...workers.map((w) => w.pid)];
  const opsPerClient = Math.ceil(options.ops / options.clients);
  for (const phase of options.phases) {
    const masterCpu = masterPids.map(processCpuSeconds);
    const machineBefore = machineBusySeconds();
    const clientCpu = clientPids.map(processCpuSeconds);
    const started = performance.now();
    for (const w of workers) w.send({ type: 'run', phase, root, opsPerClient, depth: options.depth });
    const ran = await Promise.all(workers.map((w) => w.next('ran', PHASE_TIMEOUT_MS)));
    const seconds = (performance.now() - started) / 1000;
    const machine = machineBusySeconds() - machineBefore;
    const perMaster = masterPids.map((pid, i) => processCpuSeconds(pid) - masterCpu[i]!);
    const mastersCpu = perMaster.reduce((sum, v) => sum + v, 0);
    const clientsCpu = clientPids.reduce((sum, pid, i) => sum + processCpuSeconds(pid) - clientCpu[i]!, 0);
    const ops = ran.reduce((sum, r) => sum + r.ops, 0);
    const failures = ran.reduce((sum, r) => sum + r.failures, 0);
    if (failures > 0) throw new Error(`${phase}: ${failures} of ${ops} ops failed, e.g. ${ran.find((r) => r.failures > 0)!.firstFailure}`);
    options.print(`${phase}_rate${suffix}`, ops / seconds, 'ops/s');
    options.print(`${phase}_cpu_per_1000${suffix}`, ((mastersCpu + clientsCpu) / ops) * 1000, 'cpu-s');
    options.print(`${phase}_cpu_masters_per_1000${suffix}`, (mastersCpu / ops) * 1000, 'cpu-s');
    options.print(`${phase}_cpu_clients_per_1000${suffix}`, (clientsCpu / ops) * 1000, 'cpu-s');
    // Where the cores went while the phase ran: the busiest master (the leader), the
    // clients, and everything else on the machine (other work competes for the same cores).
    options.print(`${phase}_cores_busiest_master${suffix}`, Math.max(...perMaster) / seconds, 'cores');
    options.print(`${phase}_cores_masters${suffix}`, mastersCpu / seconds, 'cores');
    options.print(`${phase}_cores_clients${suffix}`, clientsCpu / seconds, 'cores');
    options.print(`${phase}_cores_other${suffix}`, Math.max(0, machine - mastersCpu - clientsCpu) / seconds, 'cores');
  }
}

async function startWorkers(masters: string[], security: ClientSecurity, options: MetadataBenchOptions, batching: boolean): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    let firstClient = 0;
    for (let w = 0; w < options.workers; w++) {
      // Clients as evenly as they go: the first workers take one more.
      const clients = Math.floor(options.clients / options.workers) + (w < options.clients % options.workers ? 1 : 0);
      const worker = WorkerProcess.fork<MetadataWorkerCommand, MetadataWorkerEvent>('metadata-worker.js', [], options.nodeArgs);
      workers.push(worker);
      worker.send({ type: 'connect', masters, security, clients, firstClient, batching });
      firstClient += clients;
    }
    await Promise.all(workers.map((w) => w.next('connected', READY_MS)));
    return workers;
  } catch (err) {
    for (const w of workers) w.kill();
    throw err;
  }
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  for (const w of workers) if (w.connected) w.send({ type: 'stop' });
  await Promise.all(workers.map((w) => w.stopped(5_000)));
}
