import { isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { chunkVersion, type ChunkHandle, type ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import { serverRef } from './lease-manager.js';
import { placementCandidate, usableReplicas } from './replica-views.js';
import { planReplication, type ChunkReplicationState, type CopyPlan } from './replication-planner.js';

/** A copy of 64 MiB at a few tens of MB/s, with room for a busy source. */
const COPY_TIMEOUT_MS = 120_000;
/** Chunks examined per round, so one round never stalls the event loop. */
const CHUNKS_PER_ROUND = 20_000;

export interface ReplicationStats {
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

  mark(handle: ChunkHandle): void {
    this.marked.add(handle);
  }

  markAll(): void {
    this.ctx.state().forEachChunk((handle) => this.marked.add(handle));
  }

  isCopying(handle: ChunkHandle): boolean {
    return this.copying.has(handle);
  }

  stats(): ReplicationStats {
    return { underReplicated: this.underReplicated.size, missing: this.missing.size, copiesInFlight: this.copying.size };
  }

  /** One round: look at marked chunks, start copies, schedule deletions of excess replicas. */
  round(): void {
    const { ctx, leader } = this;
    const now = ctx.clock.nowMs();
    if (now < leader.replicationFromMs) return;
    const liveCount = leader.registry.live().length;
    const states: ChunkReplicationState[] = [];
    for (const handle of this.marked) {
      if (states.length >= CHUNKS_PER_ROUND) break;
      this.marked.delete(handle);
      const chunk = ctx.state().chunk(handle);
      const goal = ctx.state().chunkGoal(handle);
      if (chunk === undefined || goal === undefined || chunk.confirmedVersion === 0) {
        this.underReplicated.delete(handle);
        this.missing.delete(handle);
        continue;
      }
      states.push({
        handle,
        version: chunk.confirmedVersion,
        goal: goal.all ? liveCount : Math.min(goal.replication, LIMITS.replicationMax),
        valid: usableReplicas(leader, handle, chunk.confirmedVersion).map(placementCandidate),
        copyingTo: [...(this.copying.get(handle) ?? [])],
        leased: leader.leases.isLeased(handle, now),
      });
    }
    if (states.length === 0) return;
    const plan = planReplication(states, leader.registry.placeable(now).map(placementCandidate), this.copiesPerServer, {
      copiesPerServerMax: LIMITS.copiesPerServerMax,
      minFreeBytes: ctx.state().config().chunkSizeBytes,
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

  private startCopy(plan: CopyPlan): void {
    const { ctx, leader } = this;
    const target = leader.registry.get(plan.target);
    if (target === undefined) return;
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
      .then((response) => {
        // A delete ordered for an older replica on this server must not take the fresh copy.
        leader.pendingDeletes.get(plan.target)?.delete(plan.handle);
        leader.locations.set(plan.target, plan.handle, chunkVersion(response.version));
      })
      .catch((err: unknown) => {
        if (isDfsError(err) && err.details.fromTransport) leader.registry.markUnreachable(plan.target, ctx.clock.nowMs());
        ctx.logger.warn({ handle: plan.handle, target: plan.target, err: (err as Error).message }, 'copy failed');
      })
      .finally(() => {
        targets.delete(plan.target);
        if (targets.size === 0) this.copying.delete(plan.handle);
        for (const id of busy) this.copiesPerServer.set(id, (this.copiesPerServer.get(id) ?? 1) - 1);
        this.marked.add(plan.handle);
      });
  }
}
