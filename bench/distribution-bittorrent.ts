import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../cli/process-launcher.js';
import { ShapedNetwork, removeNetwork } from './distribution-network.js';
import { parseBittorrentResults, type BittorrentRun } from './distribution-figures.js';

const BASELINE = fileURLToPath(new URL('../../../shared/peers/bittorrent-baseline.sh', import.meta.url));

export interface BittorrentOptions {
  hosts: number;
  rate: string;
  fileBytes: number;
  runs: number;
  /** The script's data and results go here (tmpfs: it needs about hosts x size of RAM). */
  workDir: string;
  log: (line: string) => void;
}

/**
 * ../shared/peers/bittorrent-baseline.sh in BitTorrent mode (aria2c
 * leechers, a seed and opentracker on h0) with the same hosts, rate and
 * size, on a network of its own built by the same netns-cluster.sh with
 * our prefix (never at the same time as ours). Its results file is ours;
 * its progress goes to our log.
 */
export async function runBittorrentBaseline(options: BittorrentOptions): Promise<BittorrentRun[]> {
  const prefix = ShapedNetwork.prefixFor('b');
  const results = join(options.workDir, 'bittorrent-results.tsv');
  const args = [BASELINE, '-n', String(options.hosts), '-r', options.rate, '-s', String(options.fileBytes), '-k', String(options.runs), '-m', 'bt', '-w', join(options.workDir, 'bt')];
  const child = spawn('bash', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SWARM_PREFIX: prefix,
      SWARM_STATE: `/run/netns-cluster-${prefix}.state`,
      RESULTS: results,
      // The script waits up to QUIET_WAIT s for other tenants to leave the CPUs; ours does not wait, so neither does it by default.
      QUIET_WAIT: process.env.QUIET_WAIT ?? '0',
    },
  });
  const stopChild = () => {
    if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGTERM');
  };
  process.on('exit', stopChild);
  const forward = (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim() !== '') options.log(`bittorrent: ${line}`);
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('exit', (c) => resolve(c));
      child.once('error', reject);
    });
    if (code !== 0) throw new Error(`bittorrent-baseline.sh exited with ${code}`);
    const runs = parseBittorrentResults(await readFile(results, 'utf8'));
    if (runs.length !== options.runs) throw new Error(`bittorrent-baseline.sh reported ${runs.length} runs of ${options.runs}`);
    for (const r of runs) {
      if (r.badCopies > 0 || r.missingHosts > 0) throw new Error(`BitTorrent run: ${r.badCopies} bad copies, ${r.missingHosts} hosts unfinished`);
    }
    return runs;
  } finally {
    process.off('exit', stopChild);
    stopChild();
    // Its own trap removes its network; this is for a script that was killed before it could.
    removeNetwork(prefix);
  }
}
