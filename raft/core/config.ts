import { assert } from '../../common/assert.js';
import type { Logger } from '../../common/logger.js';
import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

/** Everything the core needs from outside: it reads no clock, no randomness, no environment of its own. */
export interface RaftConfig {
  id: NodeId;
  storage: Storage;
  /**
   * Ticks without hearing from a leader before a follower campaigns. Each
   * node draws its actual timeout from [electionTicks, 2 * electionTicks).
   */
  electionTicks: number;
  /** Ticks between a leader's heartbeats; must be well below electionTicks. */
  heartbeatTicks: number;
  /** Uniform in [0, 1); drives the election timeout jitter. */
  random: () => number;
  logger: Logger;
  /** Thesis §9.6: campaign only after a rehearsal round shows the election could be won. */
  preVote?: boolean;
  /** Thesis §6.2: a leader steps down without quorum contact; followers ignore disruptive votes while they have a leader. */
  checkQuorum?: boolean;
  /** Largest entries payload in one append message (at least one entry is always sent). */
  maxMessageBytes?: number;
  /** Append messages in flight to one follower before the leader waits for acknowledgements. */
  maxInflightMessages?: number;
  /** Bytes in flight to one follower; 0 for no byte limit. */
  maxInflightBytes?: number;
  /** Bytes of proposals the leader holds uncommitted before it refuses more (OVERLOADED); 0 for no limit. */
  maxUncommittedBytes?: number;
  /** Largest batch of committed entries in one Ready. */
  maxApplyBytesPerReady?: number;
  /**
   * Lease-based reads (thesis §6.4.1), 0 to turn them off. A heartbeat round
   * that a quorum acknowledged proves that no other leader can be elected
   * until each of them has counted electionTicks ticks without a leader, so
   * for this many milliseconds after the round was sent the leader answers
   * read-index requests at once. It must stay below what electionTicks
   * ticks take in real time on the slowest member, less clock drift; every
   * member of the group must set it alike, because followers also refuse
   * votes for electionTicks ticks after they start (a restarted follower has
   * forgotten when it last heard from the leader).
   */
  leaseReadMs?: number;
  /** A monotonic clock in milliseconds; read only when leaseReadMs > 0, and it must keep counting while the process is stopped. */
  monotonicMs?: () => number;
}

/** The defaults, documented in one place. */
export const RAFT_DEFAULTS = {
  preVote: true,
  checkQuorum: true,
  maxMessageBytes: 1024 * 1024,
  maxInflightMessages: 256,
  maxInflightBytes: 0,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxApplyBytesPerReady: 64 * 1024 * 1024,
  leaseReadMs: 0,
} as const;

export type ResolvedRaftConfig = Required<RaftConfig>;

export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const c: ResolvedRaftConfig = {
    preVote: config.preVote ?? RAFT_DEFAULTS.preVote,
    checkQuorum: config.checkQuorum ?? RAFT_DEFAULTS.checkQuorum,
    maxMessageBytes: config.maxMessageBytes ?? RAFT_DEFAULTS.maxMessageBytes,
    maxInflightMessages: config.maxInflightMessages ?? RAFT_DEFAULTS.maxInflightMessages,
    maxInflightBytes: config.maxInflightBytes ?? RAFT_DEFAULTS.maxInflightBytes,
    maxUncommittedBytes: config.maxUncommittedBytes ?? RAFT_DEFAULTS.maxUncommittedBytes,
    maxApplyBytesPerReady: config.maxApplyBytesPerReady ?? RAFT_DEFAULTS.maxApplyBytesPerReady,
    leaseReadMs: config.leaseReadMs ?? RAFT_DEFAULTS.leaseReadMs,
    monotonicMs: config.monotonicMs ?? noClock,
    ...stripUndefined(config),
  } as ResolvedRaftConfig;
  assert(typeof c.id === 'string' && c.id.length > 0, 'raft config: id must be a non-empty string');
  assert(Number.isSafeInteger(c.heartbeatTicks) && c.heartbeatTicks > 0, 'raft config: heartbeatTicks must be a positive integer');
  assert(
    Number.isSafeInteger(c.electionTicks) && c.electionTicks > c.heartbeatTicks,
    'raft config: electionTicks must be an integer greater than heartbeatTicks',
  );
  assert(c.maxMessageBytes > 0, 'raft config: maxMessageBytes must be positive');
  assert(Number.isSafeInteger(c.maxInflightMessages) && c.maxInflightMessages > 0, 'raft config: maxInflightMessages must be a positive integer');
  assert(c.maxInflightBytes >= 0, 'raft config: maxInflightBytes must be >= 0');
  assert(c.maxUncommittedBytes >= 0, 'raft config: maxUncommittedBytes must be >= 0');
  assert(c.maxApplyBytesPerReady > 0, 'raft config: maxApplyBytesPerReady must be positive');
  assert(Number.isFinite(c.leaseReadMs) && c.leaseReadMs >= 0, 'raft config: leaseReadMs must be >= 0');
  assert(c.leaseReadMs === 0 || (c.checkQuorum && config.monotonicMs !== undefined), 'raft config: lease reads need checkQuorum and a monotonicMs clock');
  assert(typeof c.random === 'function', 'raft config: random must be a function');
  return c;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function noClock(): number {
  throw new Error('raft config: no monotonicMs clock (lease reads are off)');
}
