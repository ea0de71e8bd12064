import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineBusySeconds, processCpuSeconds } from './process-cpu.js';
import type { WorkerCommand, WorkerEvent } from './raft-worker.js';
import { WorkerProcess } from './worker-process.js';

export interface RaftBenchOptions {
  nodes: number;
  seconds: number;
  /** Concurrent proposers on the leader, each waiting for its entry to apply before proposing the next. */
  proposers: number;
  payloadBytes: number;
  nodeArgs: string[];
  print: (name: string, value: number, unit: string) => void;
}

const READY_MS = 30_000;

/**
 * Raw Raft: `nodes` members, each a process of its own (bench/raft-worker.ts)
 * with LevelDB storage and the gRPC transport on a real port, applying to a
 * no-op state machine. Once a leader is elected, `proposers` loops on the
 * leader propose entries for `seconds`. Prints commits per second, commit
 * latency (propose to applied on the leader) and the CPU of all members.
 */
export async function runRaftBench(options: RaftBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-raft-'));
  const workers: WorkerProcess<WorkerCommand, WorkerEvent>[] = [];
  try {
    for (let i = 0; i < options.nodes; i++) {
      const dataDir = join(dir, `member-${i}`);
      await mkdir(dataDir, { recursive: true });
      workers.push(WorkerProcess.fork<WorkerCommand, WorkerEvent>('raft-worker.js', [`member-${i}`, dataDir], options.nodeArgs));
    }
    const members = await Promise.all(workers.map(async (w, i) => ({ id: `member-${i}`, address: (await w.next('listening', READY_MS)).address })));
    for (const w of workers) w.send({ type: 'start', members });
    const leaderId = await Promise.any(workers.map(async (w) => (await w.next('leading', READY_MS)).id));
    const leader = workers[members.findIndex((m) => m.id === leaderId)]!;

    const pids = workers.map((w) => w.pid);
    const cpuBefore = pids.map(processCpuSeconds);
    const machineBefore = machineBusySeconds();
    leader.send({ type: 'load', seconds: options.seconds, proposers: options.proposers, payloadBytes: options.payloadBytes });
    const loaded = await leader.next('loaded', options.seconds * 1000 + READY_MS);
    const cpuSeconds = pids.reduce((sum, pid, i) => sum + processCpuSeconds(pid) - cpuBefore[i]!, 0);
    const machine = machineBusySeconds() - machineBefore;

    options.print('raft_commits', loaded.commits / loaded.seconds, 'commits/s');
    options.print('raft_commit_latency_p50', loaded.p50Ms, 'ms');
    options.print('raft_commit_latency_p99', loaded.p99Ms, 'ms');
    options.print('raft_cpu_per_1000_commits', (cpuSeconds / loaded.commits) * 1000, 'cpu-s');
    options.print('raft_cpu_cores_busy', cpuSeconds / loaded.seconds, 'cores');
    // What the rest of the machine used meanwhile: on a shared machine it takes cores from the members.
    options.print('raft_cores_other', Math.max(0, machine - cpuSeconds) / loaded.seconds, 'cores');
  } finally {
    for (const w of workers) if (w.connected) w.send({ type: 'stop' });
    await Promise.all(workers.map((w) => w.stopped(5_000)));
    await rm(dir, { recursive: true, force: true });
  }
}
