import type { BackoffPolicy } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { Caller } from './types.js';

/**
 * How the client reaches the cluster: with a credentials directory (ca.pem
 * and either cert.pem + key.pem or a bearer `token`; `dfs security issue`
 * and `dfs security token` make them), or in plaintext on purpose, for a
 * cluster that runs --insecure.
 */
export type ClientSecurity = { tlsDir: string } | { insecure: true };

export interface DfsClientOptions {
  /** Master addresses (host:port); any one will do, the client finds the leader. */
  masters: string[];
  security: ClientSecurity;
  /** Identifies this client's requests for exactly-once retries; a UUID by default. */
  clientId?: string;
  /** Retries of retryable failures: exponential backoff with jitter, up to a deadline. */
  retry?: Partial<BackoffPolicy>;
  /**
   * Coalesce metadata mutations and stats made while others are in flight
   * into one Batch (ReadBatch) RPC, one log entry for many; each keeps its
   * own request id, result and error. On by default.
   */
  metadataBatching?: boolean;
  /**
   * Send those batches as messages on one long-lived Metadata.Session stream
   * per master rather than as unary calls, which cost about twice as much.
   * On by default; a master without sessions gets unary calls either way.
   */
  metadataSessions?: boolean;
  /**
   * Reads of up to LIMITS.sessionReadMaxBytes (128 KiB) as messages on one
   * long-lived ChunkData.ReadSession stream per chunkserver rather than a
   * Read call each. On by default; a chunkserver without read sessions gets
   * Read calls either way.
   */
  readSessions?: boolean;
  /**
   * Record appends as messages on one long-lived ChunkData.AppendSession
   * stream per primary rather than an Append call each. On by default; a
   * chunkserver without append sessions gets Append calls either way.
   */
  appendSessions?: boolean;
  /** Deadline of one RPC. */
  callTimeoutMs?: number;
  /** How long cached chunk locations are trusted before they are fetched again. */
  locationCacheTtlMs?: number;
  /** Where this client runs, so reads prefer the nearest replica. */
  locality?: {
    /** Chunkserver ids on this node (same node is nearest). */
    serverIds?: string[];
    zone?: string;
    rack?: string;
  };
  /**
   * Who this client's requests act as, unless a call names another caller:
   * the master checks permissions as Linux would for these ids. This
   * process's effective uid, gid and groups by default.
   */
  caller?: Caller;
  logger?: Logger;
}
