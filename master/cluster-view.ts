import type { RaftGroupStatus } from '../raft/index.js';
import type { ChunkMapView } from './chunk-map.js';
import type { ChunkserverRecord } from './chunkserver-registry.js';
import type { DecommissionProgress, MovementStatus, RebalanceProgress } from './movement-status.js';
import { NODE_ADMIN_STATES, type NodeAdminState } from './node-states.js';
import type { ReplicationStats } from './replication-manager.js';

/**
 * Bounds on the dashboard's view, so that a cluster of any size and a file
 * of any length give a JSON of a few hundred KB at most (10,000 nodes and
 * 10,000 chunks included); what is left out is counted ("N more").
 */
export interface ViewLimits {
  readonly nodeRowsMax: number;
  readonly movementRowsMax: number;
  readonly zoneRowsMax: number;
  readonly chunkRowsMax: number;
  readonly chunkColumnsMax: number;
  readonly pageReplicasMax: number;
  readonly coverageChunksMax: number;
  readonly coverageReplicasMax: number;
  readonly defaultFileEntriesMax: number;
}

export const VIEW_LIMITS: ViewLimits = {
  /** Rows of the nodes table: the troubled ones first. */
  nodeRowsMax: 200,
  /** Rows of the decommissioning and maintenance tables, each. */
  movementRowsMax: 200,
  /** Rows of the per-zone capacity summary. */
  zoneRowsMax: 100,
  /** Chunks in one page of a file's chunk map. */
  chunkRowsMax: 64,
  /** Nodes (columns) in a file's chunk map. */
  chunkColumnsMax: 48,
  /**
   * Replicas of one page of the chunk map, which ends early when its chunks
   * hold more (a file with replication "all" on a large fleet): the leader
   * builds a view a second for every open dashboard, and counting a chunk's
   * replicas costs one step per holder.
   */
  pageReplicasMax: 100_000,
  /** Chunks whose replicas are counted for a file's coverage figure. */
  coverageChunksMax: 20_000,
  /** Replicas looked at for that figure, for the same reason. */
  coverageReplicasMax: 100_000,
  /** Namespace entries looked at to pick the default file. */
  defaultFileEntriesMax: 100_000,
};

/**
 * What the dashboard shows, as one JSON document: built by the leader (any
 * master serves it; a follower relays the leader's and says so). Every
 * string in it came from the cluster (paths, addresses, labels) and must be
 * escaped where it is rendered.
 */
export interface ClusterView {
  /** The leader's wall clock when it built the view (ms since the epoch). */
  generatedAtMs: number;
  /** The master whose HTTP server answered, and the leader it relayed the view from, if any. */
  servedBy: { address: string; role: 'leader' | 'follower'; relayedFrom: string | null };
  leader: { id: string; address: string } | null;
  /** Why `cluster` is null (no leader known, leader unreachable, leader taking over); null when it is not. */
  unavailable: string | null;
  /** The Raft group, as the leader sees it (as the serving master does when `cluster` is null). */
  raft: RaftView;
  cluster: LeaderView | null;
}

export interface RaftView {
  term: number;
  commit: number;
  applied: number;
  members: { id: string; address: string; role: 'voter' | 'learner'; isLeader: boolean; match: number | null }[];
}

/** What only the leader knows: soft state (nodes, replicas) and the namespace's counts. */
export interface LeaderView {
  clusterId: string;
  chunkSizeBytes: number;
  defaultReplication: number;
  /** False while a new leader waits out leases an earlier one may have granted. */
  acceptingLeases: boolean;
  namespace: { files: number; directories: number; chunks: number; trash: number };
  /** Of live nodes. */
  capacity: { totalBytes: number; usedBytes: number };
  nodeCounts: { total: number; live: number; unreachable: number; dead: number };
  /** Nodes by what an operator made of them (`dfs admin decommission`, `maintenance`). */
  adminCounts: Record<NodeAdminState, number>;
  health: { underReplicated: number; missing: number; copiesInFlight: number };
  movement: MovementView;
  nodes: { rows: NodeRow[]; more: number };
  zones: { rows: ZoneRow[]; more: number };
  chunkMap: ChunkMapView;
}

/** live: heartbeating; unreachable: heartbeating but a call to it failed lately; dead: heartbeats stopped. */
export type NodeState = 'live' | 'unreachable' | 'dead';

export interface NodeRow {
  id: string;
  address: string;
  zone: string;
  rack: string;
  state: NodeState;
  adminState: NodeAdminState;
  capacityBytes: number;
  usedBytes: number;
  chunks: number;
  lastHeartbeatMsAgo: number;
  /** Transfers in flight, as its last heartbeat reported them. */
  transfers: { reads: number; writes: number; copies: number };
}

/** Replica movement an operator started or the background balancer runs (leader.movementStatus()). */
export interface MovementView {
  /** As the rebalancer reports it, with the time since its run started instead of the start on the leader's clock. */
  rebalance: Omit<RebalanceProgress, 'startedAtMs'> & { sinceStartMs: number | null };
  decommissions: { rows: DecommissionProgress[]; more: number };
  maintenance: { rows: MovementStatus['maintenance']; more: number };
}

export interface ZoneRow {
  zone: string;
  live: number;
  dead: number;
  capacityBytes: number;
  usedBytes: number;
}

export interface LeaderViewInput {
  /** Monotonic ms, the clock of the registry's heartbeat times. */
  nowMs: number;
  config: { clusterId: string; chunkSizeBytes: number; defaultReplication: number };
  counts: { files: number; directories: number; chunks: number; trash: number };
  servers: readonly ChunkserverRecord[];
  replication: Pick<ReplicationStats, 'underReplicated' | 'missing' | 'copiesInFlight'>;
  movement: MovementStatus;
  adminState(server: ChunkserverRecord['id']): NodeAdminState;
  acceptingLeases: boolean;
  chunkMap: ChunkMapView;
}

const STATE_ORDER: Record<NodeState, number> = { dead: 0, unreachable: 1, live: 2 };

export function nodeState(server: ChunkserverRecord, nowMs: number): NodeState {
  if (!server.alive) return 'dead';
  return server.unreachableUntilMs > nowMs ? 'unreachable' : 'live';
}

/** The leader's part of the view, from its state. Pure. Lists troubled nodes first: dead, unreachable, then not active. */
export function buildLeaderView(input: LeaderViewInput): LeaderView {
  const { nowMs } = input;
  const nodeCounts = { total: input.servers.length, live: 0, unreachable: 0, dead: 0 };
  const adminCounts = Object.fromEntries(NODE_ADMIN_STATES.map((s) => [s, 0])) as Record<NodeAdminState, number>;
  const capacity = { totalBytes: 0, usedBytes: 0 };
  const zones = new Map<string, ZoneRow>();
  const rows: NodeRow[] = [];
  for (const s of input.servers) {
    const state = nodeState(s, nowMs);
    const adminState = input.adminState(s.id);
    nodeCounts[state]++;
    adminCounts[adminState]++;
    let zone = zones.get(s.zone);
    if (zone === undefined) {
      zone = { zone: s.zone, live: 0, dead: 0, capacityBytes: 0, usedBytes: 0 };
      zones.set(s.zone, zone);
    }
    if (s.alive) {
      capacity.totalBytes += s.capacityBytes;
      capacity.usedBytes += s.usedBytes;
      zone.live++;
      zone.capacityBytes += s.capacityBytes;
      zone.usedBytes += s.usedBytes;
    } else {
      zone.dead++;
    }
    rows.push({
      id: s.id,
      address: s.address,
      zone: s.zone,
      rack: s.rack,
      state,
      adminState,
      capacityBytes: s.capacityBytes,
      usedBytes: s.usedBytes,
      chunks: s.chunkCount,
      lastHeartbeatMsAgo: Math.max(0, Math.round(nowMs - s.lastHeartbeatMs)),
      transfers: { reads: s.load.activeReads, writes: s.load.activeWrites, copies: s.load.activeCopies },
    });
  }
  rows.sort(
    (a, b) =>
      STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
      Number(a.adminState === 'active') - Number(b.adminState === 'active') ||
      comparePlacement(a, b),
  );
  const zoneRows = [...zones.values()].sort((a, b) => compare(a.zone, b.zone));
  return {
    clusterId: input.config.clusterId,
    chunkSizeBytes: input.config.chunkSizeBytes,
    defaultReplication: input.config.defaultReplication,
    acceptingLeases: input.acceptingLeases,
    namespace: { ...input.counts },
    capacity,
    nodeCounts,
    adminCounts,
    health: { underReplicated: input.replication.underReplicated, missing: input.replication.missing, copiesInFlight: input.replication.copiesInFlight },
    movement: movementView(input.movement, nowMs),
    nodes: capped(rows, VIEW_LIMITS.nodeRowsMax),
    zones: capped(zoneRows, VIEW_LIMITS.zoneRowsMax),
    chunkMap: input.chunkMap,
  };
}

function movementView(status: MovementStatus, nowMs: number): MovementView {
  const { startedAtMs, ...rebalance } = status.rebalance;
  return {
    rebalance: { ...rebalance, sinceStartMs: startedAtMs === undefined ? null : Math.max(0, Math.round(nowMs - startedAtMs)) },
    decommissions: capped(status.decommissions, VIEW_LIMITS.movementRowsMax),
    maintenance: capped(status.maintenance, VIEW_LIMITS.movementRowsMax),
  };
}

export type RaftStatusInput = Pick<RaftGroupStatus, 'term' | 'commit' | 'applied' | 'leader' | 'members'>;

export function buildRaftView(status: RaftStatusInput): RaftView {
  return {
    term: status.term,
    commit: status.commit,
    applied: status.applied,
    members: status.members.map((m) => ({
      id: m.id,
      address: m.address ?? '',
      role: m.role,
      isLeader: status.leader?.id === m.id,
      match: m.match,
    })),
  };
}

function capped<T>(rows: T[], max: number): { rows: T[]; more: number } {
  return { rows: rows.slice(0, max), more: Math.max(0, rows.length - max) };
}

/** Zone, then rack, then address: how nodes are listed everywhere. */
export function comparePlacement(a: { zone: string; rack: string; address: string }, b: { zone: string; rack: string; address: string }): number {
  return compare(a.zone, b.zone) || compare(a.rack, b.rack) || compare(a.address, b.address);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
