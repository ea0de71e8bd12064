import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { ChunkLocations } from './chunk-locations.js';
import { ChunkserverRegistry } from './chunkserver-registry.js';
import { LeaseManager } from './lease-manager.js';
import { LeaseTable } from './lease-table.js';
import type { MasterContext } from './master-context.js';
import { ReplicationManager } from './replication-manager.js';

/**
 * Everything only the leader knows, as GFS keeps it: never persisted, rebuilt
 * from chunkserver reports after every change of leader. A new instance per
 * term of leadership, so nothing a previous term learned leaks into the next.
 */
export class LeaderState {
  readonly registry: ChunkserverRegistry;
  readonly locations = new ChunkLocations();
  readonly leases: LeaseTable;
  /**
   * Replicas each server is told to delete in its heartbeat replies until it
   * reports them gone, with the version judged (see RegisterResponse.delete).
   */
  readonly pendingDeletes = new Map<ServerId, Map<ChunkHandle, ChunkVersion>>();
  readonly replication: ReplicationManager;
  readonly grants: LeaseManager;
  /**
   * Copies wait until chunkservers have had time to report to this leader:
   * before that, a replica not yet reported would look lost.
   */
  readonly replicationFromMs: number;

  /** `fenceMs`: how long to wait before granting leases an earlier leader may still have out. */
  constructor(ctx: MasterContext, fenceMs: number) {
    this.registry = new ChunkserverRegistry(ctx.config.chunkserverTimeoutMs);
    this.leases = new LeaseTable(ctx.clock.nowMs(), fenceMs);
    this.replicationFromMs = ctx.clock.nowMs() + ctx.config.chunkserverTimeoutMs;
    this.replication = new ReplicationManager(ctx, this);
    this.grants = new LeaseManager(ctx, this);
  }

  scheduleDelete(server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
    let pending = this.pendingDeletes.get(server);
    if (pending === undefined) {
      pending = new Map();
      this.pendingDeletes.set(server, pending);
    }
    pending.set(handle, version);
    this.locations.condemn(server, handle);
  }
}
