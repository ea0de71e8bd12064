import type { ServerId } from '../common/ids.js';

/** The rebalancer's progress, for `dfs admin rebalance --wait`, metrics and the dashboard. */
export interface RebalanceProgress {
  /** idle: never ran under this leader; running; done: balanced or nothing left to move; stopped: replaced or cut short. */
  state: 'idle' | 'running' | 'done' | 'stopped';
  /** Started by the background balancer rather than by an operator. */
  background: boolean;
  thresholdPct: number;
  maxConcurrent: number;
  /** Moves planned in every round of this run so far (later rounds add to it). */
  movesPlanned: number;
  movesDone: number;
  movesFailed: number;
  movesInFlight: number;
  bytesPlanned: number;
  bytesMoved: number;
  /** Leader clock (ms) when this run started; undefined when idle. */
  startedAtMs: number | undefined;
  /** Used over capacity of the live active servers, as last heard, in percent. */
  meanUsedPct: number;
  /** The server farthest from that mean, in percentage points. */
  maxDeviationPct: number;
}

/** One decommissioning (or decommissioned) chunkserver. */
export interface DecommissionProgress {
  serverId: ServerId;
  /** '' for a server this leader has never heard from. */
  address: string;
  state: 'decommissioning' | 'decommissioned';
  alive: boolean;
  /** Replicas it holds, as this leader mirrors them. */
  chunksHeld: number;
  /** Of those, replicas whose chunk does not yet have its goal on other servers. */
  chunksLeft: number;
}

/**
 * Everything that moves replicas, in one read: `leader.movementStatus()`.
 * Soft state of the leader (a follower has none).
 */
export interface MovementStatus {
  rebalance: RebalanceProgress;
  decommissions: DecommissionProgress[];
  /** Servers in maintenance, and whether each is up. */
  maintenance: { serverId: ServerId; address: string; alive: boolean }[];
  /** Chunks below their goal (waiting for a copy, or being copied). */
  replicationQueue: number;
  /** Chunks with no usable replica. */
  missingChunks: number;
  /** Copies running now: re-replication, draining and rebalancing. */
  copiesInFlight: number;
}
