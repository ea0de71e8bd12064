import type { ChunkControlClient } from '../proto/generated/dfs/chunk/ChunkControl.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import type { Clock } from '../common/clock.js';
import type { ClientPool } from '../common/grpc-client-pool.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { ChunkLocations } from './chunk-locations.js';
import type { ChunkserverRegistry } from './chunkserver-registry.js';
import type { LeaseTable } from './lease-table.js';
import type { MasterConfig } from './master-config.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { ApplyResult, ApplyValue, MasterStateMachine } from './state-machine.js';

/**
 * What the master's I/O modules share: configuration, the replicated state
 * behind its log, and the leader's soft state. One per master process; passed
 * explicitly, never a module-level singleton.
 */
export interface MasterContext {
  readonly config: MasterConfig;
  readonly address: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  /** The state machine as of the last applied entry (a snapshot restore replaces it). */
  state(): MasterStateMachine;
  readonly log: ReplicatedLog<ApplyResult>;
  /** Proposes an entry and returns its value, or throws the DfsError it failed with. */
  propose(entry: LogEntry): Promise<ApplyValue>;
  readonly registry: ChunkserverRegistry;
  readonly locations: ChunkLocations;
  readonly leases: LeaseTable;
  readonly chunkservers: ClientPool<ChunkControlClient>;
  /**
   * Replicas each server is told to delete in its heartbeat replies until it
   * reports them gone, with the version judged (see RegisterResponse.delete).
   */
  readonly pendingDeletes: Map<ServerId, Map<ChunkHandle, ChunkVersion>>;
  /** Chunks whose replication the next round must look at. */
  markForReplication(handle: ChunkHandle): void;
  /** True while a copy of the chunk is in flight: no lease may be granted meanwhile. */
  isCopying(handle: ChunkHandle): boolean;
}

export function scheduleDelete(ctx: MasterContext, server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
  let pending = ctx.pendingDeletes.get(server);
  if (pending === undefined) {
    pending = new Map();
    ctx.pendingDeletes.set(server, pending);
  }
  pending.set(handle, version);
  ctx.locations.condemn(server, handle);
}
