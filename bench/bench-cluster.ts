import { readdirSync } from 'node:fs';
import { startCluster, type ClusterStartOptions } from '../cli/cluster-commands.js';
import type { ClusterFile } from '../cli/cluster-file.js';
import { isOurProcess, terminate } from '../cli/process-launcher.js';

/**
 * startCluster for a benchmark in a fresh directory of its own, which leaves
 * nothing running if it fails half way: startCluster gives up on the first
 * process that does not come up, and the ones already launched (whose pids
 * it never returns) would otherwise keep running. They are found by their
 * command line, which names the benchmark's unique directory.
 */
export async function startBenchCluster(options: ClusterStartOptions): Promise<ClusterFile> {
  try {
    return await startCluster(options);
  } catch (err) {
    await Promise.all(ourProcesses(options.dir).map((pid) => terminate(pid, 5_000)));
    throw err;
  }
}

function ourProcesses(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => isOurProcess(pid, dir));
}
