import { counterReading, gaugeReading, labelledGaugeReading, type MetricsRegistry } from '../common/metrics.js';
import type { Clock } from '../common/clock.js';
import type { RaftGroupStatus } from '../raft/index.js';
import type { LeaderState } from './leader-state.js';
import type { MovementStatus } from './movement-status.js';
import type { MasterStateMachine } from './state-machine.js';

/** A scrape reads every gauge within milliseconds; anything older is read again. */
const MOVEMENT_READ_REUSE_MS = 1_000;

/** Where the master's metrics read from at scrape time. */
export interface MasterMetricSources {
  clock: Clock;
  state(): MasterStateMachine;
  /** undefined while this master does not lead. */
  leader(): LeaderState | undefined;
  raft(): RaftGroupStatus;
}

/**
 * The master's metrics, every one read at scrape time from state the master
 * keeps anyway: nothing on a request path updates them. The leader's soft
 * state (chunkservers, replication, leases) reads 0 on a follower.
 */
export function registerMasterMetrics(registry: MetricsRegistry, from: MasterMetricSources): void {
  const counts = () => from.state().counts();
  gaugeReading(registry, 'dfs_master_files', 'Files in the namespace (those in the trash included)', () => counts().files);
  gaugeReading(registry, 'dfs_master_directories', 'Directories in the namespace (those in the trash included)', () => counts().directories);
  gaugeReading(registry, 'dfs_master_chunks', 'Chunks in the chunk table', () => counts().chunks);

  const leader = from.leader;
  labelledGaugeReading(registry, 'dfs_master_chunkservers', 'Chunkservers the leader knows, by state (live, dead)', 'state', () => {
    const all = leader()?.registry.all() ?? [];
    const live = all.filter((s) => s.alive).length;
    return [['live', live], ['dead', all.length - live]];
  });
  const replication = () => leader()?.replication.stats();
  gaugeReading(registry, 'dfs_master_chunks_under_replicated', 'Chunks below their replication goal with at least one usable replica', () => replication()?.underReplicated ?? 0);
  gaugeReading(registry, 'dfs_master_chunks_missing', 'Chunks with no usable replica', () => replication()?.missing ?? 0);
  gaugeReading(registry, 'dfs_master_replication_queue_chunks', 'Chunks waiting for the next re-replication round to look at them', () => replication()?.queued ?? 0);
  gaugeReading(registry, 'dfs_master_replication_copies_in_flight', 'Chunk copies ordered and not yet finished', () => replication()?.copiesInFlight ?? 0);
  const distribution = () => leader()?.distribution.stats();
  gaugeReading(registry, 'dfs_distribution_files', 'Files with replication all being kept on every node', () => distribution()?.files ?? 0);
  gaugeReading(registry, 'dfs_distribution_members', 'Chunkservers the distribution tier spreads files to (live and active)', () => distribution()?.members ?? 0);
  gaugeReading(registry, 'dfs_distribution_tasks_outstanding', 'Chunks some member still has to fetch (one per member and chunk)', () => distribution()?.tasksOutstanding ?? 0);
  counterReading(registry, 'dfs_distribution_tasks_sent_total', 'Distribution tasks sent to chunkservers by this leader', () => distribution()?.tasksSent ?? 0);
  counterReading(registry, 'dfs_distribution_send_failures_total', 'Distribute calls to chunkservers that failed (their tasks are sent again)', () => distribution()?.sendFailures ?? 0);
  gaugeReading(registry, 'dfs_master_leases', 'Chunk leases held (granted and not expired)', () => leader()?.leases.heldCount(from.clock.nowMs()) ?? 0);

  // One read of the movement status serves every gauge of a scrape: it walks the chunks of draining servers.
  let movementRead: { atMs: number; status: MovementStatus | undefined } | undefined;
  const movement = (): MovementStatus | undefined => {
    const now = from.clock.nowMs();
    if (movementRead === undefined || now - movementRead.atMs > MOVEMENT_READ_REUSE_MS) movementRead = { atMs: now, status: leader()?.movementStatus() };
    return movementRead.status;
  };
  const rebalance = () => movement()?.rebalance;
  gaugeReading(registry, 'dfs_rebalance_running', '1 while a rebalance runs (by command or in the background), else 0', () => (rebalance()?.state === 'running' ? 1 : 0));
  labelledGaugeReading(registry, 'dfs_rebalance_moves', 'Replica moves of the current or last rebalance, by state (planned, done, failed, in_flight)', 'state', () => {
    const r = rebalance();
    return [['planned', r?.movesPlanned ?? 0], ['done', r?.movesDone ?? 0], ['failed', r?.movesFailed ?? 0], ['in_flight', r?.movesInFlight ?? 0]];
  });
  labelledGaugeReading(registry, 'dfs_rebalance_bytes', 'Bytes of the current or last rebalance, by state (planned, moved)', 'state', () => {
    const r = rebalance();
    return [['planned', r?.bytesPlanned ?? 0], ['moved', r?.bytesMoved ?? 0]];
  });
  gaugeReading(registry, 'dfs_rebalance_max_deviation_ratio', 'How far the fullest or emptiest chunkserver strays from the mean use, as a fraction of capacity', () => (rebalance()?.maxDeviationPct ?? 0) / 100);
  labelledGaugeReading(registry, 'dfs_decommission_servers', 'Chunkservers being decommissioned or decommissioned, by state', 'state', () => {
    const all = movement()?.decommissions ?? [];
    const draining = all.filter((d) => d.state === 'decommissioning').length;
    return [['decommissioning', draining], ['decommissioned', all.length - draining]];
  });
  gaugeReading(registry, 'dfs_decommission_chunks_left', 'Replicas on decommissioning servers whose chunk is not yet at its goal elsewhere', () =>
    (movement()?.decommissions ?? []).reduce((n, d) => n + (d.state === 'decommissioning' ? d.chunksLeft : 0), 0),
  );
  gaugeReading(registry, 'dfs_maintenance_servers', 'Chunkservers in maintenance (their replicas count, nothing new goes to them)', () => movement()?.maintenance.length ?? 0);

  gaugeReading(registry, 'dfs_raft_term', 'Current Raft term', () => from.raft().term);
  gaugeReading(registry, 'dfs_raft_commit_index', 'Highest log index known committed', () => from.raft().commit);
  gaugeReading(registry, 'dfs_raft_applied_index', 'Highest log index applied to the state machine here', () => from.raft().applied);
  gaugeReading(registry, 'dfs_raft_is_leader', '1 if this master is the Raft leader, else 0', () => (from.raft().role === 'leader' ? 1 : 0));
  gaugeReading(registry, 'dfs_raft_members', 'Voting members of the group, as this master knows it', () => from.raft().members.filter((m) => m.role === 'voter').length);
  counterReading(registry, 'dfs_raft_leader_changes_total', 'Times this master learned of a new leader', () => from.raft().counters.leaderChanges);
  counterReading(registry, 'dfs_raft_proposals_total', 'Entries this master proposed as leader', () => from.raft().counters.proposals);
  counterReading(registry, 'dfs_raft_entries_applied_total', 'Log entries applied to the state machine here', () => from.raft().counters.entriesApplied);
  counterReading(registry, 'dfs_raft_snapshots_total', 'Snapshots this master took of its state (its log compacted behind them)', () => from.raft().counters.snapshotsTaken);
}
