import { checkSecurityConfig } from '../security/node-security.js';
import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import type { LogLevel } from '../common/logger.js';

/** Everything a chunkserver process is configured with. Validated once at start-up. */
export interface ChunkserverConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** HTTP port for /metrics and /healthz, on `host`; 0 picks a free port, -1 turns HTTP off. */
  httpPort: number;
  /** The address clients and peers reach this server at; defaults to host:port. */
  advertiseAddress: string | undefined;
  dataDir: string;
  /** Masters to register with (host:port), any order. */
  masters: string[];
  zone: string;
  rack: string;
  /** Bytes offered for chunks; defaults to the size of the file system holding dataDir. */
  capacityBytes: number | undefined;
  /** Free space on dataDir's file system kept for everything but chunks; defaults to 5% of it, at most 1 GiB. */
  reservedBytes: number | undefined;
  /** How often idle replicas are re-verified in the background; 0 turns the scrubber off. */
  scrubIntervalMs: number;
  /** Distribution tasks fetched at once (each a chunk from one source at a time). */
  distributionDownloads: number;
  /** Bytes a sync has made durable leave the page cache (chunk-files.ts). */
  dropBehindWrites: boolean;
  /** This chunkserver's credentials directory (cert.pem, key.pem, ca.pem, cluster-secret): mutual TLS, token checks. */
  tlsDir: string | undefined;
  /** Plaintext gRPC, no authentication, no access tokens: only when asked for. */
  insecure: boolean;
  logLevel: LogLevel;
  readyFile: string | undefined;
}

export const CHUNKSERVER_DEFAULTS: Omit<ChunkserverConfig, 'dataDir' | 'masters'> = {
  host: '127.0.0.1',
  port: 7100,
  httpPort: 7180,
  advertiseAddress: undefined,
  zone: 'default',
  rack: 'default',
  capacityBytes: undefined,
  reservedBytes: undefined,
  scrubIntervalMs: 60_000,
  distributionDownloads: 2,
  dropBehindWrites: true,
  tlsDir: undefined,
  insecure: false,
  logLevel: 'info',
  readyFile: undefined,
};

/**
 * Throws INVALID_ARGUMENT naming the first bad setting. `whence` says where
 * the named fields' values came from (the CLI's sources), '' if it cannot.
 */
export function validateChunkserverConfig(
  config: ChunkserverConfig,
  whence: (fields: (keyof ChunkserverConfig)[]) => string = () => '',
): ChunkserverConfig {
  const fail = (field: keyof ChunkserverConfig, message: string): never => {
    const from = whence([field]);
    throw new DfsError('INVALID_ARGUMENT', `chunkserver config: ${message}${from ? ` (${from})` : ''}`);
  };
  if (!config.dataDir) fail('dataDir', 'dataDir is required');
  if (config.masters.length === 0) fail('masters', 'at least one master address is required');
  for (const m of config.masters) if (!/^[^\s:]+:\d{1,5}$/.test(m)) fail('masters', `master address ${JSON.stringify(m)} is not host:port`);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) fail('port', `port ${config.port} is not a port`);
  if (!Number.isInteger(config.httpPort) || config.httpPort < -1 || config.httpPort > 65535) fail('httpPort', `httpPort ${config.httpPort} is not a port (or -1 for none)`);
  if (config.capacityBytes !== undefined && !(config.capacityBytes > 0)) fail('capacityBytes', 'capacityBytes must be positive');
  if (config.reservedBytes !== undefined && !(config.reservedBytes >= 0)) fail('reservedBytes', 'reservedBytes must not be negative');
  if (!(config.scrubIntervalMs >= 0)) fail('scrubIntervalMs', 'scrubIntervalMs must not be negative');
  const downloadsMax = LIMITS.distributionDownloadsMax;
  if (!Number.isInteger(config.distributionDownloads) || config.distributionDownloads < 1 || config.distributionDownloads > downloadsMax) {
    fail('distributionDownloads', `distributionDownloads must be 1 to ${downloadsMax}`);
  }
  checkSecurityConfig(config, fail);
  for (const [key, value] of [['zone', config.zone], ['rack', config.rack]] as const) {
    if (!value || value.length > 64) fail(key, `${key} must be 1 to 64 characters`);
  }
  return config;
}
