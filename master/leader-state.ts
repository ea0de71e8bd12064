import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { ChunkLocations } from './chunk-locations.js';
import { ChunkserverRegistry } from './chunkserver-registry.js';
import { DecommissionTracker } from './decommission-tracker.js';
import { DistributionManager } from './distribution-manager.js';
import { HeatTracker } from './heat-tracker.js';
import { LeaseManager } from './lease-manager.js';
import { LeaseTable } from './lease-table.js';
import type { MasterContext } from './master-context.js';
import type { MovementStatus } from './movement-status.js';
import type { NodeAdminState } from './node-states.js';
import type { PlacementCandidate } from './placement-policy.js';
import { Rebalancer } from './rebalancer.js';
import { replicaClassesOf, replicaGoal, type ReplicaClasses } from './replica-classes.js';
import { placementCandidate } from './replica-views.js';
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
  readonly rebalancer: Rebalancer;
  readonly decommissions: DecommissionTracker;
  readonly distribution: DistributionManager;
  /** Read heat per chunk, from heartbeats: hot chunks get more replicas for a while. */
  readonly heat: HeatTracker;
  /**
   * Copies wait until chunkservers have had time to report to this leader:
   * before that, a replica not yet reported would look lost.
   */
  readonly replicationFromMs: number;

  /** `fenceMs`: how long to wait before granting leases an earlier leader may still have out. */
  constructor(
    private readonly ctx: MasterContext,
    fenceMs: number,
  ) {
    this.registry = new ChunkserverRegistry(ctx.config.chunkserverTimeoutMs);
    this.leases = new LeaseTable(ctx.clock.nowMs(), fenceMs);
    this.replicationFromMs = ctx.clock.nowMs() + ctx.config.chunkserverTimeoutMs;
    this.replication = new ReplicationManager(ctx, this);
    this.grants = new LeaseManager(ctx, this);
    this.rebalancer = new Rebalancer(ctx, this);
    this.decommissions = new DecommissionTracker(ctx, this);
    this.distribution = new DistributionManager(ctx, this);
    this.heat = new HeatTracker({ hotReadsPerS: ctx.config.hotChunkReadsPerS, hotReplicasMax: ctx.config.hotChunkReplicasMax, halfLifeMs: ctx.config.hotChunkHalfLifeMs });
  }

  /** A server's admin state: replicated, so it outlives this leadership. */
  nodeState(server: ServerId): NodeAdminState {
    return this.ctx.state().nodeState(server);
  }

  /** Servers that may take new replicas now: live, reachable, active. The high-water mark is placement's to apply. */
  placementTargets(nowMs: number): PlacementCandidate[] {
    return this.registry
      .placeable(nowMs)
      .filter((s) => this.nodeState(s.id) === 'active')
      .map(placementCandidate);
  }

  /** The replicas of a chunk by what they are worth (see replica-classes.ts). */
  replicaClasses(handle: ChunkHandle, confirmed: ChunkVersion): ReplicaClasses {
    return replicaClassesOf(this, handle, confirmed);
  }

  /** Replicas a chunk should have on servers that count (replica-classes.ts replicaGoal). */
  goalOf(handle: ChunkHandle): number | undefined {
    return replicaGoal(this.ctx.state().chunkGoal(handle));
  }

  /** What re-replication aims for: the goal, raised for a while for a chunk that is read hot (a file on every node is hot enough already). */
  replicationGoalOf(handle: ChunkHandle): number | undefined {
    const goal = this.ctx.state().chunkGoal(handle);
    const base = replicaGoal(goal);
    if (base === undefined || goal?.all === true) return base;
    return this.heat.goal(handle, this.ctx.clock.nowMs(), base);
  }

  /** What moves replicas, in one read: for the admin RPCs, metrics and the dashboard. */
  movementStatus(): MovementStatus {
    const stats = this.replication.stats();
    const maintenance = this.ctx
      .state()
      .nodeStatesNotActive()
      .filter(([, state]) => state === 'maintenance')
      .map(([id]) => {
        const record = this.registry.get(id as ServerId);
        return { serverId: id as ServerId, address: record?.address ?? '', alive: record?.alive === true };
      });
    return {
      rebalance: this.rebalancer.progress(),
      decommissions: this.decommissions.progress(),
      maintenance,
      replicationQueue: stats.underReplicated,
      missingChunks: stats.missing,
      copiesInFlight: stats.copiesInFlight,
    };
  }

  /** A server's replicas are lost (it died, or left maintenance while down): forget them and copy their chunks elsewhere. */
  forgetServer(server: ServerId): void {
    this.distribution.memberDown(server);
    for (const handle of this.locations.dropServer(server)) this.replication.mark(handle);
    this.pendingDeletes.delete(server);
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
