import { assert } from '../common/assert.js';
import { isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { chunkVersion, type ChunkHandle, type ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import { serverRef } from './lease-manager.js';
import { placementCandidate } from './replica-views.js';
import { planReplication, type ChunkReplicationState, type CopyPlan } from './replication-planner.js';

/** A copy of 64 MiB at a few tens of MB/s, with room for a busy source. */
const COPY_TIMEOUT_MS = 120_000;
/** Chunks examined per round, so one round never stalls the event loop. */
const CHUNKS_PER_ROUND = 20_000;

export interface ReplicationStats {
  /** Chunks marked for a look in a coming round (the re-replication queue). */
  queued: number;
  underReplicated: number;
  missing: number;
  copiesInFlight: number;
}

/**
 * Brings every chunk back to its replication goal, most endangered first, and
 * trims replicas above it. Driven by events (a server died, a replica was
 * found corrupt, a pipeline broke, a goal changed) through `mark`, with an
 * occasional full scan to catch anything an event missed.
 */
export class ReplicationManager {
  private readonly marked = new Set<ChunkHandle>();
  private readonly copying = new Map<ChunkHandle, Set<ServerId>>();
  private readonly copiesPerServer = new Map<ServerId, number>();
  private readonly underReplicated = new Set<ChunkHandle>();
  private readonly missing = new Set<ChunkHandle>();

  constructor(
    private readonly ctx: MasterContext,
    private readonly leader: LeaderState,
  ) {}

  /** Also tells the distribution tier: whatever changes a chunk's replicas or goal may change its distribution. */
  mark(handle: ChunkHandle): void {
    this.marked.add(handle);
    this.leader.distribution.mark(handle);
  }

  markAll(): void {
    this.ctx.state().forEachChunk((handle) => this.mark(handle));
  }

  isCopying(handle: ChunkHandle): boolean {
    return this.copying.has(handle);
  }

  /** Copies `server` takes part in now, as source or target. */
  copiesOn(server: ServerId): number {
    return this.copiesPerServer.get(server) ?? 0;
  }

  /** Whether `server` may take part in one more copy. */
  hasCopySlot(server: ServerId): boolean {
    return this.copiesOn(server) < LIMITS.copiesPerServerMax;
  }

  stats(): ReplicationStats {
    return { queued: this.marked.size, underReplicated: this.underReplicated.size, missing: this.missing.size, copiesInFlight: this.copying.size };
  }

  /** One round: look at marked chunks, start copies, schedule deletions of excess replicas. */
  round(): void {
    const { ctx, leader } = this;
    const now = ctx.clock.nowMs();
    if (now < leader.replicationFromMs) return;
    const states: ChunkReplicationState[] = [];
    const byId = (id: ServerId) => placementCandidate(leader.registry.get(id)!);
    for (const handle of this.marked) {
      if (states.length >= CHUNKS_PER_ROUND) break;
      this.marked.delete(handle);
      const chunk = ctx.state().chunk(handle);
      const goal = leader.replicationGoalOf(handle);
      if (chunk === undefined || goal === undefined || chunk.confirmedVersion === 0) {
        this.underReplicated.delete(handle);
        this.missing.delete(handle);
        continue;
      }
      const classes = leader.replicaClasses(handle, chunk.confirmedVersion);
      states.push({
        handle,
        version: chunk.confirmedVersion,
        goal,
        valid: classes.counted.map(byId),
        draining: classes.draining.map(byId),
        released: classes.released.map(byId),
        down: classes.down.length,
        copyingTo: [...(this.copying.get(handle) ?? [])],
        leased: leader.leases.isLeased(handle, now),
        moving: leader.rebalancer.isMoving(handle),
        keepSurplus: ctx.state().chunkGoal(handle)?.all === true,
      });
    }
    if (states.length === 0) return;
    const plan = planReplication(states, leader.placementTargets(now), this.copiesPerServer, {
      copiesPerServerMax: LIMITS.copiesPerServerMax,
      minFreeBytes: ctx.state().config().chunkSizeBytes,
      highWaterMark: ctx.config.highWaterMark,
      random: ctx.random,
    });
    for (const copy of plan.copies) this.startCopy(copy);
    for (const { handle, server } of plan.excess) {
      const version = leader.locations.holders(handle).get(server);
      if (version !== undefined) leader.scheduleDelete(server, handle, version);
    }
    for (const handle of plan.blockedByLease) {
      // Let the lease lapse; the copy happens in a later round.
      leader.leases.stopExtending(handle);
      this.marked.add(handle);
    }
    for (const handle of [...plan.deferred, ...plan.blockedByLease]) {
      this.underReplicated.add(handle);
      this.missing.delete(handle);
      this.marked.add(handle);
    }
    for (const handle of plan.missing) {
      this.missing.add(handle);
      this.underReplicated.delete(handle);
    }
    for (const handle of plan.healthy) {
      this.underReplicated.delete(handle);
      this.missing.delete(handle);
    }
    for (const copy of plan.copies) this.underReplicated.add(copy.handle);
  }

  /**
   * Has `plan.target` pull the chunk from the first source that answers.
   * `onDone` runs when the copy ends, before the chunk counts as no longer
   * being copied (so nothing trims its replicas in between): with true once
   * the new replica is recorded as held.
   */
  startCopy(plan: CopyPlan, onDone?: (copied: boolean) => void): void {
    const { ctx, leader } = this;
    // A copy under a lease, or during a grant, could be at the lease's version and miss its writes.
    assert(!leader.leases.isLeased(plan.handle, ctx.clock.nowMs()), `chunk ${plan.handle} is copied while leased`);
    const target = leader.registry.get(plan.target);
    if (target === undefined) {
      onDone?.(false);
      return;
    }
    let targets = this.copying.get(plan.handle);
    if (targets === undefined) {
      targets = new Set();
      this.copying.set(plan.handle, targets);
    }
    targets.add(plan.target);
    const busy = [plan.target, plan.sources[0]!];
    for (const id of busy) this.copiesPerServer.set(id, (this.copiesPerServer.get(id) ?? 0) + 1);
    const sources = plan.sources.map((id) => leader.registry.get(id)).filter((s) => s !== undefined).map(serverRef);
    const client = ctx.chunkservers.get(target.address);
    ctx.logger.info({ handle: plan.handle, target: plan.target, source: plan.sources[0] }, 're-replicating chunk');
    callUnary(
      client,
      'CopyChunk',
      { handle: String(plan.handle), minVersion: String(plan.version), sources },
      COPY_TIMEOUT_MS,
    )
      .then(
        (response) => {
          // A delete ordered for an older replica on this server must not take the fresh copy.
          leader.pendingDeletes.get(plan.target)?.delete(plan.handle);
          leader.locations.set(plan.target, plan.handle, chunkVersion(response.version));
          return true;
        },
        (err: unknown) => {
          if (isDfsError(err) && err.details.fromTransport) leader.registry.markUnreachable(plan.target, ctx.clock.nowMs());
          ctx.logger.warn({ handle: plan.handle, target: plan.target, err: (err as Error).message }, 'copy failed');
          return false;
        },
      )
      .then((copied) => onDone?.(copied))
      .catch((err: unknown) => ctx.logger.error({ err, handle: plan.handle }, 'after a copy'))
      .finally(() => {
        targets.delete(plan.target);
        if (targets.size === 0) this.copying.delete(plan.handle);
        for (const id of busy) this.copiesPerServer.set(id, (this.copiesPerServer.get(id) ?? 1) - 1);
        this.marked.add(plan.handle);
      });
  }
}
