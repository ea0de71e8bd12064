import type { Command } from 'commander';
import { emptyFsckCounts, type FsckCounts } from '../common/fsck-counts.js';
import { DfsClient } from '../client-lib/index.js';
import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { normalizeUserPath } from '../common/path.js';
import type { FsckFile__Output } from '../proto/generated/dfs/master/FsckFile.js';
import type { RaftStatusResponse__Output } from '../proto/generated/dfs/master/RaftStatusResponse.js';
import {
  addSummary, dataAtRisk, formatFsckFile, formatFsckSummary, formatNodes, formatPlan, fsckFileJson, fsckStatus,
  nodeRow, rebalancePlanJson, rebalanceStatusJson,
} from './admin-format.js';
import { findCluster } from './cluster-address.js';
import type { Output } from './output.js';
import { formatBytes } from './size.js';
import { waitWithProgress } from './wait-progress.js';
import { distributionJson, formatDistribution, isComplete } from './distribute-format.js';

/** `dfs admin fsck` exits with this when some chunk has nothing readable (missing, or no usable replica). */
export const EXIT_DATA_AT_RISK = 3;
/** Files whose goal `setrep -R` changes at once. */
const SETREP_CONCURRENCY = 16;

interface CommonOptions {
  masters?: string;
  tlsDir?: string;
  insecure?: boolean;
  dir: string;
}

/** `dfs admin ...`: operator commands. `json` says whether --json is on (progress bars are then off). */
export function addAdminCommands(program: Command, output: Output, env: NodeJS.ProcessEnv, json: () => boolean): void {
  const admin = program.command('admin').description('operate the cluster');
  const raft = admin.command('raft').description('the masters\' Raft group');
  const withClient = async <T>(opts: CommonOptions, fn: (client: DfsClient) => Promise<T>): Promise<T> => {
    const client = await DfsClient.connect(await findCluster(opts, env, opts.dir));
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  const command = (parent: Command, name: string, description: string) =>
    parent
      .command(name)
      .description(description)
      .option('--masters <list>', 'master addresses (default: $DFS_MASTERS, or DIR/cluster.json)')
      .option('--tls-dir <dir>', 'credentials directory (default: $DFS_TLS_DIR, or DIR/security/admin of a local cluster)')
      .option('--insecure', 'plaintext, for a cluster that runs --insecure')
      .option('--dir <dir>', 'local cluster directory holding cluster.json', './data');
  addReplicaCommands(admin, output, json, command, withClient);

  command(raft, 'status', 'members with their ids, addresses and roles, as the leader sees them').action(async (opts: CommonOptions) => {
    const target = await findCluster(opts, env, opts.dir);
    await withClient(opts, async (client) => {
      let status = await client.raftStatus();
      // Any master answers for itself; the leader's answer is the complete one.
      if (status.role !== 'leader' && status.leaderAddress !== '') {
        const leader = await DfsClient.connect({ masters: [status.leaderAddress], security: target.security });
        try {
          status = await leader.raftStatus();
        } finally {
          leader.close();
        }
      }
      output.result(statusJson(status), () => formatStatus(status));
    });
  });

  command(raft, 'add <address>', 'add the master at ADDRESS (started with --join); waits until it has caught up and votes').action(
    async (address: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        const status = await client.addMaster(address);
        output.result(statusJson(status), () => formatStatus(status));
      });
    },
  );

  command(raft, 'remove <id>', 'remove the master with raft id ID from the group').action(async (id: string, opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      const status = await client.removeMaster(id);
      output.result(statusJson(status), () => formatStatus(status));
    });
  });

  command(raft, 'transfer <id>', 'hand leadership to the master with raft id ID').action(async (id: string, opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      const status = await client.transferLeadership(id);
      output.result(statusJson(status), () => `leadership moved to ${status.leaderId} (${status.leaderAddress})`);
    });
  });
}

function addReplicaCommands(
  admin: Command,
  output: Output,
  json: () => boolean,
  command: (parent: Command, name: string, description: string) => Command,
  withClient: <T>(opts: CommonOptions, fn: (client: DfsClient) => Promise<T>) => Promise<T>,
): void {
  command(admin, 'nodes', 'chunkservers: state, capacity, use, chunks, last heartbeat, transfers').action(async (opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      const rows = (await client.listChunkservers()).map(nodeRow);
      output.result(rows, () => formatNodes(rows));
    });
  });

  command(admin, 'fsck', `chunks under PATH (default /) that are under- or over-replicated, missing, corrupt or stale; exits ${EXIT_DATA_AT_RISK} when data is at risk`)
    .argument('[path]', 'a file or directory', '/')
    .action(async (rawPath: string, opts: CommonOptions) => {
      const path = normalizeUserPath(rawPath);
      await withClient(opts, async (client) => {
        const files: FsckFile__Output[] = [];
        const totals = await fsckAll(client, path, (f) => {
          if (json()) files.push(f);
          else process.stdout.write(formatFsckFile(f) + '\n');
        });
        output.result({ path, status: fsckStatus(totals), summary: totals, files: files.map(fsckFileJson) }, () => formatFsckSummary(path, totals));
        // Not an error (everything was printed), but scripts must see it.
        if (dataAtRisk(totals)) process.exitCode = EXIT_DATA_AT_RISK;
      });
    });

  command(admin, 'setrep', 'set the replication goal of a file (or with -R every file under a directory) to N replicas or "all"')
    .argument('<goal>', `1 to ${LIMITS.replicationMax}, or all (every active chunkserver)`)
    .argument('<path>', 'a file, or a directory with -R')
    .option('-R, --recursive', 'every file under the directory', false)
    .option('--wait', 'return once every chunk holds the goal, with progress', false)
    .action(async (goal: string, rawPath: string, opts: CommonOptions & { recursive: boolean; wait: boolean }) => {
      const replication = parseGoal(goal);
      const path = normalizeUserPath(rawPath);
      await withClient(opts, async (client) => {
        const changed = await setGoal(client, path, replication, opts.recursive);
        const summary = { path, replication, files: changed };
        if (!opts.wait) {
          output.result(summary, () => `replication of ${changed} file${changed === 1 ? '' : 's'} set to ${replication}`);
          return;
        }
        const totals = await waitForGoal(client, path, json());
        const everywhere = replication === 'all' && (await client.stat(path)).kind === 'file' ? await waitForDistribution(client, path, json()) : undefined;
        output.result(
          { ...summary, summary: totals, ...(everywhere ? { distribution: distributionJson(everywhere) } : {}) },
          () =>
            `replication of ${changed} file${changed === 1 ? '' : 's'} set to ${replication}; ${totals.healthy}/${totals.chunks} chunks at their goal` +
            (everywhere ? `; on ${everywhere.nodesComplete}/${everywhere.nodes} nodes` : ''),
        );
      });
    });

  const distribute = admin.command('distribute').description('files with replication "all": how far they have got to every node');
  command(distribute, 'status', 'nodes complete, per-node progress (least complete first), bytes sent by the origin, rate and ETA')
    .argument('<path>', 'a file')
    .option('--watch', 'redraw a progress bar until every node holds the file', false)
    .option('--nodes <n>', 'per-node rows shown, least complete first', '20')
    .action(async (rawPath: string, opts: CommonOptions & { watch: boolean; nodes: string }) => {
      const path = normalizeUserPath(rawPath);
      const rows = Number(opts.nodes);
      if (!Number.isInteger(rows) || rows < 0 || rows > LIMITS.distributionStatusRowsMax) {
        throw new DfsError('INVALID_ARGUMENT', `--nodes ${JSON.stringify(opts.nodes)} must be 0 to ${LIMITS.distributionStatusRowsMax}`);
      }
      await withClient(opts, async (client) => {
        if (opts.watch) await waitForDistribution(client, path, json());
        // 0 rows would ask for the master's default: ask for one and drop it.
        const status = await client.distributionStatus(path, Math.max(rows, 1));
        const shown = { ...status, nodeStatus: status.nodeStatus.slice(0, rows) };
        output.result(distributionJson(shown), () => formatDistribution(shown));
      });
    });

  command(admin, 'rebalance', 'move replicas from full to empty chunkservers until each is within the threshold of the mean use')
    .option('--threshold <pct>', 'percentage points from the mean use every server must end within', '10')
    .option('--max-concurrent <n>', 'moves at once', '4')
    .option('--dry-run', 'print the plan (chunk, from, to, bytes) and move nothing', false)
    .option('--wait', 'return once the rebalance is done, with progress', false)
    .action(async (opts: CommonOptions & { threshold: string; maxConcurrent: string; dryRun: boolean; wait: boolean }) => {
      const thresholdPct = Number(opts.threshold);
      const maxConcurrent = Number(opts.maxConcurrent);
      if (!(thresholdPct > 0 && thresholdPct < 100)) throw new DfsError('INVALID_ARGUMENT', `--threshold ${opts.threshold} must be a percentage between 0 and 100`);
      if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new DfsError('INVALID_ARGUMENT', `--max-concurrent ${opts.maxConcurrent} must be a positive integer`);
      await withClient(opts, async (client) => {
        const plan = await client.rebalance({ thresholdPct, maxConcurrent, dryRun: opts.dryRun });
        if (opts.dryRun || !opts.wait) {
          output.result(rebalancePlanJson(plan), () => (opts.dryRun ? formatPlan(plan, thresholdPct) : `rebalance started: ${formatPlan(plan, thresholdPct).split('\n')[0]}`));
          return;
        }
        // waitWithProgress samples at least once, and the sample that says done is the final status.
        let status!: ReturnType<typeof rebalanceStatusJson>;
        await waitWithProgress(async () => {
          status = rebalanceStatusJson(await client.rebalanceStatus());
          return {
            done: status.state !== 'running',
            value: status.movesDone + status.movesFailed,
            total: status.movesPlanned,
            detail: `moves, ${formatBytes(status.bytesMoved)} moved, ${status.movesInFlight} in flight`,
          };
        }, json());
        output.result(status, () =>
          `rebalance ${status.state}: ${status.movesDone} moves (${formatBytes(status.bytesMoved)}), ${status.movesFailed} failed; ` +
          `farthest server ${status.maxDeviationPct.toFixed(1)} points from the mean use of ${status.meanUsedPct.toFixed(1)}%`,
        );
      });
    });

  command(admin, 'decommission', 'drain a chunkserver (copy its replicas elsewhere), then release it')
    .argument('<node>', 'server id or address')
    .option('--wait', 'return once it is decommissioned, with progress', false)
    .action(async (node: string, opts: CommonOptions & { wait: boolean }) => {
      await withClient(opts, async (client) => {
        let row = nodeRow(await client.setNodeState(node, 'decommissioning'));
        if (opts.wait) {
          let total = row.drainChunksLeft;
          await waitWithProgress(async () => {
            row = nodeRow((await client.listChunkservers()).find((s) => s.server?.id === row.id)!);
            total = Math.max(total, row.drainChunksLeft);
            return { done: row.state === 'decommissioned', value: total - row.drainChunksLeft, total, detail: 'chunks copied elsewhere' };
          }, json());
        }
        output.result(row, () => `${row.address || row.id}: ${row.state}${row.state === 'decommissioning' ? ` (${row.drainChunksLeft} chunks left)` : ''}`);
      });
    });

  command(admin, 'maintenance', 'put a chunkserver in maintenance (on) or back to normal (off)')
    .argument('<node>', 'server id or address')
    .argument('<onoff>', 'on or off')
    .action(async (node: string, onoff: string, opts: CommonOptions) => {
      if (onoff !== 'on' && onoff !== 'off') throw new DfsError('INVALID_ARGUMENT', `maintenance takes on or off, not ${JSON.stringify(onoff)}`);
      await withClient(opts, async (client) => {
        const row = nodeRow(await client.setNodeState(node, onoff === 'on' ? 'maintenance' : 'active'));
        output.result(row, () => `${row.address || row.id}: ${row.state}`);
      });
    });

  command(admin, 'recommission', 'make a decommissioning or decommissioned chunkserver active again')
    .argument('<node>', 'server id or address')
    .action(async (node: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        const row = nodeRow(await client.setNodeState(node, 'active'));
        output.result(row, () => `${row.address || row.id}: ${row.state}`);
      });
    });
}

function parseGoal(goal: string): number | 'all' {
  if (goal === 'all') return 'all';
  const n = Number(goal);
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.replicationMax) {
    throw new DfsError('INVALID_ARGUMENT', `replication ${JSON.stringify(goal)} must be 1 to ${LIMITS.replicationMax}, or all`);
  }
  return n;
}

/** Sets the goal of the file at `path`, or of every file under the directory; returns how many. */
async function setGoal(client: DfsClient, path: string, replication: number | 'all', recursive: boolean): Promise<number> {
  const attr = await client.stat(path);
  if (attr.kind === 'file') {
    await client.setAttributes(path, { replication });
    return 1;
  }
  if (attr.kind !== 'directory') throw new DfsError('INVALID_ARGUMENT', `${path} is a ${attr.kind}: replication applies to files`);
  if (!recursive) throw new DfsError('INVALID_ARGUMENT', `${path} is a directory: use -R to change every file under it`);
  let changed = 0;
  const pending: Promise<void>[] = [];
  const dirs = [path];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    for (const entry of await client.list(dir)) {
      const child = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
      if (entry.attr.kind === 'directory') dirs.push(child);
      if (entry.attr.kind !== 'file') continue;
      pending.push(client.setAttributes(child, { replication }).then(() => void changed++));
      if (pending.length >= SETREP_CONCURRENCY) await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending);
  return changed;
}

/** Reads every fsck page under `path`, handing each listed file to `onFile`; returns the counts summed over the pages. */
async function fsckAll(client: DfsClient, path: string, onFile: (f: FsckFile__Output) => void = () => {}): Promise<FsckCounts> {
  const totals = emptyFsckCounts();
  let cursor = '';
  do {
    const page = await client.fsck(path, cursor);
    addSummary(totals, page.summary);
    page.files.forEach(onFile);
    cursor = page.nextCursor;
  } while (cursor !== '');
  return totals;
}

/** Waits until no chunk under `path` is under or over its goal (a missing chunk cannot be waited for). */
async function waitForGoal(client: DfsClient, path: string, quiet: boolean): Promise<FsckCounts> {
  let totals!: FsckCounts;
  await waitWithProgress(async () => {
    totals = await fsckAll(client, path);
    if (dataAtRisk(totals)) throw new DfsError('UNAVAILABLE', `${totals.missing + totals.unavailable} chunks under ${path} have no usable replica: see dfs admin fsck`);
    return {
      done: totals.underReplicated + totals.overReplicated === 0,
      value: totals.healthy,
      total: totals.chunks,
      detail: 'chunks at their goal',
    };
  }, quiet);
  return totals;
}

/** Waits until every node that should hold the file at `path` holds all of it, with a bar of bytes done. */
async function waitForDistribution(client: DfsClient, path: string, quiet: boolean) {
  let last = await client.distributionStatus(path, 1);
  if (!last.replicateAll) throw new DfsError('INVALID_ARGUMENT', `${path} does not have replication all: see dfs admin setrep all`);
  await waitWithProgress(async () => {
    last = await client.distributionStatus(path, 1);
    return {
      done: isComplete(last),
      value: Number(last.bytesDone),
      total: Number(last.bytesWanted),
      detail: `bytes on ${last.nodesComplete}/${last.nodes} nodes complete`,
    };
  }, quiet);
  return last;
}

function statusJson(s: RaftStatusResponse__Output) {
  return {
    leader: s.leaderId === '' ? null : { id: s.leaderId, address: s.leaderAddress },
    term: Number(s.term),
    commit: Number(s.commit),
    members: s.members.map((m) => ({
      id: m.id,
      address: m.address,
      role: m.id === s.leaderId ? 'leader' : m.role === 'voter' ? 'follower' : 'learner',
      voter: m.role === 'voter',
      match: Number(m.match),
    })),
  };
}

function formatStatus(s: RaftStatusResponse__Output): string {
  const rows = statusJson(s).members.map(
    (m) => `  ${m.id.padEnd(16)} ${m.address.padEnd(22)} ${m.role.padEnd(9)} match ${m.match}`,
  );
  return [`term ${s.term}, commit ${s.commit}, leader ${s.leaderId || 'none'}`, ...rows].join('\n');
}
