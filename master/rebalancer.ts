import type { ChunkHandle, ServerId } from '../common/ids.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import type { RebalanceProgress } from './movement-status.js';
import { fitsBelow } from './placement-policy.js';
import { movesBytes, planRebalance, type BalanceChunk, type PlannedMove, type RebalancePlan } from './rebalance-planner.js';

/** Moves one plan holds at most: a run plans again when they are done. */
const MOVES_PER_PLAN = 1_000;
/** Plans in one run: each later one starts from what the earlier moves achieved. */
const ROUNDS_PER_RUN_MAX = 20;

export interface RebalanceRequestOptions {
  thresholdPct: number;
  maxConcurrent: number;
  background: boolean;
}

/**
 * Runs rebalancing plans (rebalance-planner.ts): each move copies the chunk
 * to its target with the re-replication machinery, and only once the new
 * replica is recorded as held deletes the source, and then only if the
 * chunk keeps its goal without it. While a move runs, nothing trims the
 * chunk's replicas and no lease is granted on it (it counts as copying).
 * Used bytes are the leader's own reckoning from the replicas it knows
 * (heartbeats lag behind moves), so a plan never counts a move twice.
 */
export class Rebalancer {
  private run: RebalanceProgress = idleProgress();
  private queue: PlannedMove[] = [];
  private readonly inFlight = new Map<ChunkHandle, PlannedMove>();
  private rounds = 0;
  /** Moves that succeeded in the current round: a round without any ends the run. */
  private doneThisRound = 0;

  constructor(
    private readonly ctx: MasterContext,
    private readonly leader: LeaderState,
  ) {}

  isMoving(handle: ChunkHandle): boolean {
    return this.inFlight.has(handle);
  }

  progress(): RebalanceProgress {
    return { ...this.run, movesInFlight: this.inFlight.size };
  }

  /** What a rebalance would do now, changing nothing. */
  plan(thresholdPct: number): RebalancePlan {
    const now = this.ctx.clock.nowMs();
    const servers = this.leader.placementTargets(now).map((c) => ({ ...c, usedBytes: this.reckonedUsedBytes(c.id) }));
    const state = this.ctx.state();
    const chunks: BalanceChunk[] = [];
    const sites = new Map(this.leader.registry.all().map((s) => [s.id, { id: s.id, zone: s.zone, rack: s.rack }]));
    for (const handle of this.leader.locations.chunkHandles()) {
      const chunk = state.chunk(handle);
      if (chunk === undefined || chunk.confirmedVersion === 0) continue;
      // Chunks being written or copied, or under their goal, are the lease's and re-replication's to handle.
      if (this.leader.leases.isLeased(handle, now) || this.leader.replication.isCopying(handle) || this.inFlight.has(handle)) continue;
      const classes = this.leader.replicaClasses(handle, chunk.confirmedVersion);
      const goal = this.leader.goalOf(handle);
      if (goal === undefined || classes.counted.length < goal) continue;
      chunks.push({ handle, bytes: state.chunkBytes(handle), replicas: classes.counted.map((id) => sites.get(id)!) });
    }
    return planRebalance(servers, chunks, {
      thresholdPct,
      highWaterMark: this.ctx.config.highWaterMark,
      maxMoves: MOVES_PER_PLAN,
    });
  }

  /** Starts a run (replacing one in progress; its moves in flight finish) and returns its first plan. */
  start(options: RebalanceRequestOptions, plan: RebalancePlan = this.plan(options.thresholdPct)): RebalancePlan {
    const bytes = movesBytes(plan.moves);
    if (this.run.state === 'running') this.ctx.logger.info('rebalance replaced by a new one');
    this.run = {
      ...idleProgress(),
      state: plan.moves.length > 0 ? 'running' : 'done',
      background: options.background,
      thresholdPct: options.thresholdPct,
      maxConcurrent: options.maxConcurrent,
      movesPlanned: plan.moves.length,
      bytesPlanned: bytes,
      startedAtMs: this.ctx.clock.nowMs(),
      meanUsedPct: plan.meanUsedPct,
      maxDeviationPct: plan.maxDeviationPct,
    };
    this.queue = [...plan.moves];
    this.rounds = 1;
    this.doneThisRound = 0;
    this.ctx.logger.info(
      { moves: plan.moves.length, bytes, thresholdPct: options.thresholdPct, meanUsedPct: plan.meanUsedPct, maxDeviationPct: plan.maxDeviationPct, background: options.background },
      'rebalance started',
    );
    return plan;
  }

  /** The background balancer's check: start a run only if some move would help. */
  startIfUnbalanced(options: RebalanceRequestOptions): void {
    if (this.run.state === 'running') return;
    const plan = this.plan(options.thresholdPct);
    if (plan.moves.length > 0) this.start(options, plan);
  }

  stop(): void {
    if (this.run.state !== 'running') return;
    this.queue = [];
    this.run.state = 'stopped';
  }

  /** One step, from the leader's periodic work: start moves up to the limit, plan again when a plan is used up. */
  tick(): void {
    if (this.run.state !== 'running') return;
    const now = this.ctx.clock.nowMs();
    if (now < this.leader.replicationFromMs) return;
    while (this.inFlight.size < this.run.maxConcurrent && this.queue.length > 0) {
      const move = this.queue.shift()!;
      const outcome = this.startMove(move, now);
      if (outcome === 'busy') {
        // Its servers are at their copy limit: it waits for the next tick.
        this.queue.unshift(move);
        break;
      }
      if (outcome === 'obsolete') {
        this.run.movesPlanned--;
        this.run.bytesPlanned -= move.bytes;
      }
    }
    if (this.queue.length > 0 || this.inFlight.size > 0) return;
    const plan = this.plan(this.run.thresholdPct);
    this.run.meanUsedPct = plan.meanUsedPct;
    this.run.maxDeviationPct = plan.maxDeviationPct;
    if (plan.moves.length === 0 || this.doneThisRound === 0 || this.rounds >= ROUNDS_PER_RUN_MAX) {
      this.run.state = 'done';
      this.ctx.logger.info({ moves: this.run.movesDone, bytes: this.run.bytesMoved, failed: this.run.movesFailed, maxDeviationPct: plan.maxDeviationPct }, 'rebalance done');
      return;
    }
    this.rounds++;
    this.doneThisRound = 0;
    this.queue = [...plan.moves];
    this.run.movesPlanned += plan.moves.length;
    this.run.bytesPlanned += movesBytes(plan.moves);
  }

  /** Used bytes as the replicas this leader knows add up (condemned ones are as good as gone). */
  private reckonedUsedBytes(server: ServerId): number {
    const state = this.ctx.state();
    let used = 0;
    for (const handle of this.leader.locations.inventory(server).keys()) {
      if (!this.leader.locations.isCondemned(server, handle)) used += state.chunkBytes(handle);
    }
    return used;
  }

  /** Obsolete: the chunk or a server changed since the plan, so the move no longer makes sense. */
  private startMove(move: PlannedMove, now: number): 'started' | 'busy' | 'obsolete' {
    const { leader, ctx } = this;
    const chunk = ctx.state().chunk(move.handle);
    if (chunk === undefined || leader.leases.isLeased(move.handle, now) || leader.replication.isCopying(move.handle)) return 'obsolete';
    const classes = leader.replicaClasses(move.handle, chunk.confirmedVersion);
    if (!classes.counted.includes(move.from) || leader.locations.holders(move.handle).has(move.to)) return 'obsolete';
    const target = leader.placementTargets(now).find((c) => c.id === move.to);
    if (target === undefined || !fitsBelow(target, move.bytes, ctx.config.highWaterMark)) return 'obsolete';
    if (!leader.replication.hasCopySlot(move.to) || !leader.replication.hasCopySlot(move.from)) return 'busy';
    this.inFlight.set(move.handle, move);
    const run = this.run;
    ctx.logger.info({ handle: move.handle, from: move.from, to: move.to, bytes: move.bytes }, 'moving a replica');
    const others = classes.counted.filter((id) => id !== move.from);
    leader.replication.startCopy(
      { handle: move.handle, version: chunk.confirmedVersion, target: move.to, sources: [move.from, ...others] },
      (copied) => {
        this.inFlight.delete(move.handle);
        const ok = copied && this.finishMove(move);
        // A run replaced meanwhile keeps its own counts.
        if (run !== this.run) return;
        if (ok) {
          run.movesDone++;
          run.bytesMoved += move.bytes;
          this.doneThisRound++;
        } else {
          run.movesFailed++;
        }
      },
    );
    return 'started';
  }

  /**
   * The copy is held: delete the source replica if the chunk keeps its goal
   * with the new one and without the source. Otherwise the move ends as a
   * plain extra copy, which re-replication trims as it would any surplus.
   */
  private finishMove(move: PlannedMove): boolean {
    const { leader, ctx } = this;
    const chunk = ctx.state().chunk(move.handle);
    if (chunk === undefined) return false;
    const classes = leader.replicaClasses(move.handle, chunk.confirmedVersion);
    const goal = leader.goalOf(move.handle) ?? Infinity;
    const remaining = classes.counted.filter((id) => id !== move.from);
    const sourceVersion = leader.locations.holders(move.handle).get(move.from);
    if (!classes.counted.includes(move.to) || remaining.length < goal || sourceVersion === undefined) return false;
    leader.scheduleDelete(move.from, move.handle, sourceVersion);
    return true;
  }
}

/** Progress when no rebalance ran under this leader. */
export function idleProgress(): RebalanceProgress {
  return {
    state: 'idle',
    background: false,
    thresholdPct: 0,
    maxConcurrent: 0,
    movesPlanned: 0,
    movesDone: 0,
    movesFailed: 0,
    movesInFlight: 0,
    bytesPlanned: 0,
    bytesMoved: 0,
    startedAtMs: undefined,
    meanUsedPct: 0,
    maxDeviationPct: 0,
  };
}
