import { mkdtemp, rm, stat } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsClient } from '../client-lib/index.js';
import { startCluster } from '../cli/cluster-commands.js';
import { terminate } from '../cli/process-launcher.js';
import { sleep } from '../common/backoff.js';

export interface RestartBenchOptions {
  files: number;
  snapshotEveryEntries: number;
  print: (name: string, value: number, unit: string) => void;
}

/**
 * How fast a master with a long history comes back. Three masters take
 * `files` creates (batched, so the history is built quickly) and snapshot
 * every `snapshotEveryEntries` entries; then a follower is SIGKILLed and
 * restarted on its data. Reported: the time from launch until it serves
 * (snapshot restored, the log suffix replayed, port bound), until it has
 * caught up with the leader, and the size of what it restored from.
 */
export async function runRestartBench(options: RestartBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-restart-'));
  const start = () =>
    startCluster({
      dir,
      masters: 3,
      chunkservers: 0,
      chunkSizeBytes: 64 * 1024 * 1024,
      detach: false,
      masterArgs: ['--log-level', 'warn', '--snapshot-every-entries', String(options.snapshotEveryEntries)],
    });
  let cluster = await start();
  try {
    const client = await DfsClient.connect({ masters: cluster.masters, security: cluster.security });
    try {
      await client.mkdir('/history');
      const perDirectory = 10_000;
      for (let d = 0; d * perDirectory < options.files; d++) await client.mkdir(`/history/d${d}`);
      let next = 0;
      const created = performance.now();
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          for (let i = next++; i < options.files; i = next++) await client.create(`/history/d${Math.floor(i / perDirectory)}/f${i}`);
        }),
      );
      options.print('restart_history_files', options.files, 'files');
      options.print('restart_history_create_rate', options.files / ((performance.now() - created) / 1000), 'ops/s');
      // Let every member take its snapshot of the state it has.
      await sleep(2_000);
      const status = await client.raftStatus();
      const follower = cluster.processes.find((p) => p.role === 'master' && p.name !== status.leaderId)!;
      options.print('restart_raft_dir', await directoryBytes(join(follower.dataDir, 'raft')), 'bytes');
      process.kill(follower.pid, 'SIGKILL');
      await sleep(200);
      // Only the killed master is down, so this launches it alone and returns once it serves.
      const launched = performance.now();
      cluster = await start();
      options.print('restart_ready', performance.now() - launched, 'ms');
      const leader = cluster.processes.find((p) => p.name === status.leaderId)!;
      const leaderClient = await DfsClient.connect({ masters: [leader.address], security: cluster.security });
      try {
        for (;;) {
          const view = await leaderClient.raftStatus();
          const me = view.members.find((m) => m.id === follower.name);
          if (me !== undefined && Number(me.match) >= Number(view.commit)) break;
          await sleep(20);
        }
      } finally {
        leaderClient.close();
      }
      options.print('restart_caught_up', performance.now() - launched, 'ms');
    } finally {
      client.close();
    }
  } finally {
    await Promise.all(cluster.processes.map((p) => terminate(p.pid)));
    await rm(dir, { recursive: true, force: true });
  }
}

async function directoryBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    total += entry.isDirectory() ? await directoryBytes(full) : (await stat(full)).size;
  }
  return total;
}
