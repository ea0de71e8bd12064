import { assert } from '../../common/assert.js';
import { LIMITS } from '../../common/limits.js';
import type { Logger } from '../../common/logger.js';
import type { RaftConfig } from '../core/config.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { RaftTransport } from '../transport/transport.js';
import type { StateMachine } from './state-machine.js';

export interface RaftGroupOptions<Result> {
  /** This member's stable id. */
  id: string;
  /** host:port where the other members reach this one. */
  address: string;
  /** Opened by the caller; the group closes it in stop(). */
  storage: RaftStorage;
  /** Created by the caller; the group starts and stops it. */
  transport: RaftTransport;
  stateMachine: StateMachine<Result>;
  /**
   * The members of a brand-new cluster, this one included, identical on each.
   * Used only when the storage is empty; a member that joins an existing
   * cluster starts empty without it and waits to hear from the leader.
   */
  bootstrap?: ReadonlyArray<{ id: string; address: string }>;
  tickIntervalMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Take a snapshot and compact the log every this many applied entries. */
  snapshotEveryEntries?: number;
  /** Entries kept behind each snapshot, so that a slightly slow follower needs no snapshot. */
  compactionRetainEntries?: number;
  /** Proposals waiting to be applied before propose() refuses with OVERLOADED. */
  maxPendingProposals?: number;
  /** Reads waiting for their read index before readIndex() refuses with OVERLOADED. */
  maxPendingReads?: number;
  /** Ticks a read, a transfer or a learner's catch-up may take before it fails with TIMEOUT. */
  requestTimeoutTicks?: number;
  /** A learner is promoted once it is within this many entries of the leader's commit index. */
  catchUpLagEntries?: number;
  /**
   * Answer reads from a leader lease instead of a heartbeat round each
   * (RaftConfig.leaseReadMs): the lease lasts 90% of electionTicks - 2 ticks.
   * Every member of a group must agree on it.
   */
  leaseReads?: boolean;
  /** Random source for election jitter; Math.random unless a test wants it reproducible. */
  random?: () => number;
  logger?: Logger;
  /** Protocol options passed through to the core. */
  core?: Pick<RaftConfig, 'preVote' | 'checkQuorum' | 'maxMessageBytes' | 'maxInflightMessages' | 'maxInflightBytes' | 'maxUncommittedBytes' | 'maxApplyBytesPerReady'>;
}

export const RAFT_GROUP_DEFAULTS = {
  tickIntervalMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEveryEntries: 10_000,
  compactionRetainEntries: 1_000,
  maxPendingProposals: LIMITS.queuedProposalsMax,
  maxPendingReads: 10_000,
  requestTimeoutTicks: 50,
  catchUpLagEntries: 0,
} as const;

export type ResolvedGroupOptions = typeof RAFT_GROUP_DEFAULTS extends infer D ? { -readonly [K in keyof D]: number } : never;

export function resolveGroupOptions<R>(o: RaftGroupOptions<R>): ResolvedGroupOptions {
  const r: ResolvedGroupOptions = {
    tickIntervalMs: o.tickIntervalMs ?? RAFT_GROUP_DEFAULTS.tickIntervalMs,
    electionTicks: o.electionTicks ?? RAFT_GROUP_DEFAULTS.electionTicks,
    heartbeatTicks: o.heartbeatTicks ?? RAFT_GROUP_DEFAULTS.heartbeatTicks,
    snapshotEveryEntries: o.snapshotEveryEntries ?? RAFT_GROUP_DEFAULTS.snapshotEveryEntries,
    compactionRetainEntries: o.compactionRetainEntries ?? RAFT_GROUP_DEFAULTS.compactionRetainEntries,
    maxPendingProposals: o.maxPendingProposals ?? RAFT_GROUP_DEFAULTS.maxPendingProposals,
    maxPendingReads: o.maxPendingReads ?? RAFT_GROUP_DEFAULTS.maxPendingReads,
    requestTimeoutTicks: o.requestTimeoutTicks ?? RAFT_GROUP_DEFAULTS.requestTimeoutTicks,
    catchUpLagEntries: o.catchUpLagEntries ?? RAFT_GROUP_DEFAULTS.catchUpLagEntries,
  };
  for (const [name, value] of Object.entries(r)) {
    assert(Number.isSafeInteger(value) && value >= 0, `raft group option ${name} must be a non-negative integer, got ${value}`);
  }
  assert(r.tickIntervalMs > 0 && r.snapshotEveryEntries > 0, 'raft group: tickIntervalMs and snapshotEveryEntries must be positive');
  assert(o.id.length > 0 && o.address.length > 0, 'raft group: id and address must be non-empty');
  return r;
}

/**
 * How long a read lease lasts. Followers refuse votes for electionTicks
 * ticks after hearing from the leader; their first tick may come at once
 * and a timer never fires early, so that is at least electionTicks - 1
 * intervals of real time. One more interval and 10% go to timer slack and
 * clock drift between hosts.
 */
export function leaseReadMs(o: Pick<ResolvedGroupOptions, 'electionTicks' | 'tickIntervalMs'>): number {
  return Math.max(0, Math.floor((o.electionTicks - 2) * o.tickIntervalMs * 0.9));
}
