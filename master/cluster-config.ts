import { errors } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import type { InitCluster, InitCluster__Output } from '../proto/generated/dfs/masterlog/InitCluster.js';
import { readString, readUint32, readUint64 } from './entry-fields.js';

/** What the first InitCluster fixes for the life of the cluster. */
export interface ClusterConfig {
  readonly chunkSizeBytes: number;
  readonly defaultReplication: number;
  readonly clusterId: string;
}

export const CHUNK_SIZE_MIN_BYTES = 64 * 1024;
export const CHUNK_SIZE_MAX_BYTES = 1024 * 1024 * 1024;

/** Validates an InitCluster; throws INVALID_ARGUMENT. */
export function parseClusterConfig(op: InitCluster__Output): ClusterConfig {
  const chunkSizeBytes = readUint64(op.chunkSizeBytes);
  if (
    chunkSizeBytes === undefined ||
    chunkSizeBytes < CHUNK_SIZE_MIN_BYTES ||
    chunkSizeBytes > CHUNK_SIZE_MAX_BYTES ||
    !Number.isInteger(Math.log2(chunkSizeBytes))
  ) {
    throw errors.invalid(
      `chunk size ${op.chunkSizeBytes} is not a power of two between ${CHUNK_SIZE_MIN_BYTES} and ${CHUNK_SIZE_MAX_BYTES} bytes`,
    );
  }
  const defaultReplication = readUint32(op.defaultReplication, 'default replication');
  if (defaultReplication < 1 || defaultReplication > LIMITS.replicationMax) {
    throw errors.invalid(`default replication ${defaultReplication} is not between 1 and ${LIMITS.replicationMax}`);
  }
  return { chunkSizeBytes, defaultReplication, clusterId: readString(op.clusterId, 'cluster id') };
}

export function toWireConfig(config: ClusterConfig): InitCluster {
  return {
    chunkSizeBytes: String(config.chunkSizeBytes),
    defaultReplication: config.defaultReplication,
    clusterId: config.clusterId,
  };
}
