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

/** Validates an InitCluster; throws INVALID_ARGUMENT. */
export function parseClusterConfig(op: InitCluster__Output): ClusterConfig {
  const chunkSizeBytes = readUint64(op.chunkSizeBytes);
  if (
    chunkSizeBytes === undefined ||
    chunkSizeBytes < LIMITS.chunkSizeMinBytes ||
    chunkSizeBytes > LIMITS.chunkSizeMaxBytes ||
    !Number.isInteger(Math.log2(chunkSizeBytes))
  ) {
    throw errors.invalid(
      `chunk size ${op.chunkSizeBytes} is not a power of two between ${LIMITS.chunkSizeMinBytes} and ${LIMITS.chunkSizeMaxBytes} bytes`,
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
