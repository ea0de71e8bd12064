import { DfsError } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { LIMITS } from '../common/limits.js';

/** Everything a master process is configured with. Validated once at start-up. */
export interface MasterConfig {
  /** Interface to listen on. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The address others reach this master at; defaults to host:port. */
  advertiseAddress: string | undefined;
  dataDir: string;
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
  logLevel: LogLevel;
  /** Where to write {"port":N,"address":"..."} once serving (for launchers and tests). */
  readyFile: string | undefined;
}

export const MASTER_DEFAULTS: Omit<MasterConfig, 'dataDir'> = {
  host: '127.0.0.1',
  port: 7000,
  advertiseAddress: undefined,
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
  logLevel: 'info',
  readyFile: undefined,
};

/** Throws INVALID_ARGUMENT naming the first bad setting. */
export function validateMasterConfig(config: MasterConfig): MasterConfig {
  const fail = (message: string): never => {
    throw new DfsError('INVALID_ARGUMENT', `master config: ${message}`);
  };
  if (!config.dataDir) fail('dataDir is required');
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) fail(`port ${config.port} is not a port`);
  const size = config.chunkSizeBytes;
  if (!Number.isInteger(size) || size < LIMITS.chunkSizeMinBytes || size > LIMITS.chunkSizeMaxBytes || (size & (size - 1)) !== 0) {
    fail(`chunkSizeBytes ${size} must be a power of two between 64 KiB and 1 GiB`);
  }
  if (!Number.isInteger(config.defaultReplication) || config.defaultReplication < 1 || config.defaultReplication > LIMITS.replicationMax) {
    fail(`defaultReplication must be between 1 and ${LIMITS.replicationMax}`);
  }
  for (const key of ['leaseDurationMs', 'heartbeatIntervalMs', 'chunkserverTimeoutMs', 'replicationIntervalMs', 'gcIntervalMs'] as const) {
    if (!(config[key] > 0)) fail(`${key} must be positive`);
  }
  if (config.chunkserverTimeoutMs <= config.heartbeatIntervalMs * 2) {
    fail('chunkserverTimeoutMs must exceed two heartbeat intervals');
  }
  if (config.leaseDurationMs <= config.heartbeatIntervalMs * 2) {
    fail('leaseDurationMs must exceed two heartbeat intervals, or leases lapse between extensions');
  }
  if (!(config.snapshotEveryEntries >= 100)) fail('snapshotEveryEntries must be at least 100');
  return config;
}
