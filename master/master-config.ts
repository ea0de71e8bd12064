import { DfsError } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { LIMITS } from '../common/limits.js';
import { checkSecurityConfig } from '../security/node-security.js';

/** Everything a master process is configured with. Validated once at start-up. */
export interface MasterConfig {
  /** Interface to listen on. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** HTTP port for /metrics, /healthz and the dashboard, on `host`; 0 picks a free port, -1 turns HTTP off. */
  httpPort: number;
  /** The address others reach this master at; defaults to host:port. */
  advertiseAddress: string | undefined;
  dataDir: string;
  /** This master's id in the Raft group; kept in DATA_DIR/raft-id after the first start. */
  raftId: string | undefined;
  /**
   * The masters of a brand-new group, this one included, identical on each.
   * Without it (and without `join`) a new master starts a group of one.
   * Ignored once the master has a log.
   */
  peers: { id: string; address: string }[] | undefined;
  /** Start empty and wait to be added to an existing group (dfs admin raft add). */
  join: boolean;
  raftTickMs: number;
  /** Ticks without hearing from a leader before a follower stands for election (randomised up to twice this). */
  raftElectionTicks: number;
  /** Fixed when the cluster is created; ignored afterwards. */
  chunkSizeBytes: number;
  defaultReplication: number;
  leaseDurationMs: number;
  /** What chunkservers are told to use. */
  heartbeatIntervalMs: number;
  /** A chunkserver silent for this long is dead and its replicas are re-replicated. */
  chunkserverTimeoutMs: number;
  /** How long deleted files stay in the trash before their chunks are released. */
  trashRetentionMs: number;
  /** Client sessions (retry deduplication) idle for this long are forgotten. */
  sessionRetentionMs: number;
  replicationIntervalMs: number;
  /** Garbage collection of orphaned and stale replicas. */
  gcIntervalMs: number;
  snapshotEveryEntries: number;
  /** No chunkserver is filled above this fraction of its capacity by placement, re-replication or rebalancing. */
  highWaterMark: number;
  /** Rebalance in the background whenever a server strays more than balancerThresholdPct from the mean. */
  balancerEnabled: boolean;
  balancerThresholdPct: number;
  /** Moves the background balancer runs at once. */
  balancerMaxConcurrent: number;
  /** Children per node in the trees that spread a file with replication `all` to every node. */
  distributionFanout: number;
  /** A lease on a chunk of a file with replication `all` is given up after this long without writes, so that distribution starts. */
  distributionLeaseIdleMs: number;
  /** Read calls per second on a chunk (over all its replicas) that earn it one more replica; 0: no hot-chunk replication. */
  hotChunkReadsPerS: number;
  /** Most replicas read heat alone may give a chunk. */
  hotChunkReplicasMax: number;
  /** Read heat halves in this long without reads: how fast a hot chunk's extra replicas go. */
  hotChunkHalfLifeMs: number;
  /** This master's credentials directory (cert.pem, key.pem, ca.pem, cluster-secret): mutual TLS and authentication. */
  tlsDir: string | undefined;
  /** Plaintext gRPC with no authentication, callers trusted as they claim: only when asked for. */
  insecure: boolean;
  /** How long a chunk access token the master signs stays good. */
  chunkTokenTtlMs: number;
  logLevel: LogLevel;
  /** Where to write {"port":N,"address":"..."} once serving (for launchers and tests). */
  readyFile: string | undefined;
}

export const MASTER_DEFAULTS: Omit<MasterConfig, 'dataDir'> = {
  host: '127.0.0.1',
  port: 7000,
  httpPort: 7080,
  advertiseAddress: undefined,
  raftId: undefined,
  peers: undefined,
  join: false,
  raftTickMs: 50,
  raftElectionTicks: 10,
  chunkSizeBytes: 64 * 1024 * 1024,
  defaultReplication: 3,
  leaseDurationMs: 10_000,
  heartbeatIntervalMs: 2_000,
  chunkserverTimeoutMs: 10_000,
  trashRetentionMs: 60 * 60 * 1000,
  sessionRetentionMs: 60 * 60 * 1000,
  replicationIntervalMs: 500,
  gcIntervalMs: 5_000,
  snapshotEveryEntries: 20_000,
  highWaterMark: 0.9,
  balancerEnabled: false,
  balancerThresholdPct: 10,
  balancerMaxConcurrent: 1,
  distributionFanout: 2,
  distributionLeaseIdleMs: 500,
  hotChunkReadsPerS: 200,
  hotChunkReplicasMax: 10,
  hotChunkHalfLifeMs: 20_000,
  tlsDir: undefined,
  insecure: false,
  chunkTokenTtlMs: 10 * 60 * 1000,
  logLevel: 'info',
  readyFile: undefined,
};

/**
 * Throws INVALID_ARGUMENT naming the first bad setting. `whence` says where
 * the named fields' values came from (the CLI's sources), '' if it cannot.
 */
export function validateMasterConfig(config: MasterConfig, whence: (fields: (keyof MasterConfig)[]) => string = () => ''): MasterConfig {
  const fail = (fields: keyof MasterConfig | (keyof MasterConfig)[], message: string): never => {
    const from = whence(Array.isArray(fields) ? fields : [fields]);
    throw new DfsError('INVALID_ARGUMENT', `master config: ${message}${from ? ` (${from})` : ''}`);
  };
  if (!config.dataDir) fail('dataDir', 'dataDir is required');
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) fail('port', `port ${config.port} is not a port`);
  if (!Number.isInteger(config.httpPort) || config.httpPort < -1 || config.httpPort > 65535) fail('httpPort', `httpPort ${config.httpPort} is not a port (or -1 for none)`);
  const size = config.chunkSizeBytes;
  if (!Number.isInteger(size) || size < LIMITS.chunkSizeMinBytes || size > LIMITS.chunkSizeMaxBytes || (size & (size - 1)) !== 0) {
    fail('chunkSizeBytes', `chunkSizeBytes ${size} must be a power of two between 64 KiB and 1 GiB`);
  }
  if (!Number.isInteger(config.defaultReplication) || config.defaultReplication < 1 || config.defaultReplication > LIMITS.replicationMax) {
    fail('defaultReplication', `defaultReplication must be between 1 and ${LIMITS.replicationMax}`);
  }
  for (const key of ['leaseDurationMs', 'heartbeatIntervalMs', 'chunkserverTimeoutMs', 'replicationIntervalMs', 'gcIntervalMs'] as const) {
    if (!(config[key] > 0)) fail(key, `${key} must be positive`);
  }
  if (config.chunkserverTimeoutMs <= config.heartbeatIntervalMs * 2) {
    fail(['chunkserverTimeoutMs', 'heartbeatIntervalMs'], 'chunkserverTimeoutMs must exceed two heartbeat intervals');
  }
  if (config.leaseDurationMs <= config.heartbeatIntervalMs * 2) {
    fail(['leaseDurationMs', 'heartbeatIntervalMs'], 'leaseDurationMs must exceed two heartbeat intervals, or leases lapse between extensions');
  }
  if (!(config.snapshotEveryEntries >= 100)) fail('snapshotEveryEntries', 'snapshotEveryEntries must be at least 100');
  if (!(config.highWaterMark > 0 && config.highWaterMark <= 1)) fail('highWaterMark', `highWaterMark ${config.highWaterMark} must be a fraction in (0, 1]`);
  if (!(config.balancerThresholdPct > 0 && config.balancerThresholdPct < 100)) {
    fail('balancerThresholdPct', `balancerThresholdPct ${config.balancerThresholdPct} must be between 0 and 100`);
  }
  if (!Number.isInteger(config.balancerMaxConcurrent) || config.balancerMaxConcurrent < 1) fail('balancerMaxConcurrent', 'balancerMaxConcurrent must be a positive integer');
  if (!Number.isInteger(config.distributionFanout) || config.distributionFanout < 1 || config.distributionFanout > 16) {
    fail('distributionFanout', 'distributionFanout must be an integer from 1 to 16');
  }
  if (!Number.isInteger(config.distributionLeaseIdleMs) || config.distributionLeaseIdleMs < 0) {
    fail('distributionLeaseIdleMs', 'distributionLeaseIdleMs must be 0 (hold leases until they end) or a positive integer');
  }
  if (!(config.hotChunkHalfLifeMs >= 100)) fail('hotChunkHalfLifeMs', 'hotChunkHalfLifeMs must be at least 100');
  if (!(config.hotChunkReadsPerS >= 0)) fail('hotChunkReadsPerS', 'hotChunkReadsPerS must be 0 (off) or positive');
  if (!Number.isInteger(config.hotChunkReplicasMax) || config.hotChunkReplicasMax < 1 || config.hotChunkReplicasMax > LIMITS.replicationMax) {
    fail('hotChunkReplicasMax', `hotChunkReplicasMax must be an integer from 1 to ${LIMITS.replicationMax}`);
  }
  if (!(config.raftTickMs >= 1) || !(config.raftElectionTicks >= 3)) fail(['raftTickMs', 'raftElectionTicks'], 'raftTickMs must be at least 1 and raftElectionTicks at least 3');
  if (config.raftId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(config.raftId)) {
    fail('raftId', `raftId ${JSON.stringify(config.raftId)} must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  checkSecurityConfig(config, fail);
  // Clients refresh locations well within a token's life; a token must outlive a lease, which it is handed out with.
  if (!Number.isInteger(config.chunkTokenTtlMs) || config.chunkTokenTtlMs < Math.max(60_000, 2 * config.leaseDurationMs)) {
    fail(['chunkTokenTtlMs', 'leaseDurationMs'], 'chunkTokenTtlMs must be at least a minute and two lease durations');
  }
  if (config.join && config.peers !== undefined) fail(['join', 'peers'], 'join and peers exclude each other');
  if (config.peers !== undefined) {
    if (config.raftId === undefined || !config.peers.some((p) => p.id === config.raftId)) {
      fail(['peers', 'raftId'], 'peers must include this master (give its raftId)');
    }
    if (new Set(config.peers.map((p) => p.id)).size !== config.peers.length) fail('peers', 'peers have duplicate ids');
  }
  return config;
}
