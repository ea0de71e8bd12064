import { isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { chunkHandle, chunkVersion, type ChunkHandle, type ChunkVersion, type InodeId, type ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { DistributionProgress__Output } from '../proto/generated/dfs/master/DistributionProgress.js';
import type { DistributionTask } from '../proto/generated/dfs/chunk/DistributionTask.js';
import { requireInteger } from '../common/wire-validation.js';
import { DistributionPlanner, type PlannedTask } from './distribution-planner.js';
import type { LeaderState } from './leader-state.js';
import { serverRef } from './lease-manager.js';
import type { MasterContext } from './master-context.js';

const DISTRIBUTE_TIMEOUT_MS = 5_000;
/** How long a rate sample window is: long enough to smooth a chunk's arrival, short enough to follow a change. */
const RATE_WINDOW_MS = 10_000;

/** A distributed chunk as planned: the version being spread, and where it sits in its file. */
interface PlannedChunk {
  version: ChunkVersion;
  inode: InodeId;
}

/** What a node last said about its distribution tasks. */
interface NodeReport {
  inFlight: Map<ChunkHandle, { version: ChunkVersion; receivedBytes: number; failed: boolean; error: string }>;
  copyOutBytes: number;
}

/** Per file: when its current round of distribution began and who held it then. */
interface FileRun {
  startedAtMs: number;
  startedAtWallMs: number;
  origins: Map<ServerId, number>;
  samples: { atMs: number; bytesDone: number }[];
}

export interface DistributionStats {
  files: number;
  chunks: number;
  members: number;
  tasksOutstanding: number;
  tasksSent: number;
  sendFailures: number;
}

/**
 * The distribution tier: every chunk of a file with replication `all` on
 * every active live chunkserver. Soft state only (nothing per node goes
 * through the log): the durable tier (the file's lease participants, kept
 * at their goal by the replication manager) is the source; this class feeds
 * `DistributionPlanner` (pure: trees, re-parenting) from heartbeats and
 * sends each node its tasks, which the node's agent fetches by itself.
 *
 * A chunk is planned only at its confirmed version and while no lease is
 * held or being granted on it: under a lease its bytes are still changing,
 * and a copy taken then could be at the version the lease writes at yet miss
 * its later writes (see invariant 6). A lease always bumps the version, so a
 * fetch that was planned before it ends stale, never short.
 */
export class DistributionManager {
  private readonly planner: DistributionPlanner;
  private readonly planned = new Map<ChunkHandle, PlannedChunk>();
  private readonly members = new Set<ServerId>();
  private readonly dirty = new Set<ChunkHandle>();
  /** Wanted but not plannable yet (leased, no known holder): looked at again every round. */
  private readonly waiting = new Set<ChunkHandle>();
  /** Chunks waiting on a lease whose primary was asked to give it up when idle, with the lease's version: asked once per lease. */
  private readonly releasesAsked = new Map<ChunkHandle, ChunkVersion>();
  private readonly outbox = new Map<ServerId, { tasks: Map<ChunkHandle, PlannedTask>; cancels: Set<ChunkHandle> }>();
  private readonly sending = new Set<ServerId>();
  private readonly reports = new Map<ServerId, NodeReport>();
  private readonly runs = new Map<InodeId, FileRun>();
  /** Bytes nodes reported received of chunks still in flight, per file: kept up to date by each heartbeat. */
  private readonly receivingByFile = new Map<InodeId, number>();
  private tasksSent = 0;
  private kicked = false;
  private sendFailures = 0;

  constructor(
    private readonly ctx: MasterContext,
    private readonly leader: LeaderState,
  ) {
    this.planner = new DistributionPlanner({ fanout: ctx.config.distributionFanout, fallbacks: 2, random: ctx.random });
  }

  /** Something about the chunk changed (its goal, its version, its replicas): look at it next round. */
  mark(handle: ChunkHandle): void {
    this.dirty.add(handle);
  }

  /** A server registered (again) or became active: it should hold every distributed chunk, and what it holds counts. */
  memberUp(server: ServerId): void {
    const record = this.leader.registry.get(server);
    if (record === undefined || !record.alive || this.leader.nodeState(server) !== 'active') return;
    if (!this.members.has(server)) {
      this.members.add(server);
      this.planner.addMember({ id: server, zone: record.zone, rack: record.rack });
    }
    for (const [handle, version] of this.leader.locations.inventory(server)) this.reported(server, handle, version);
  }

  /** A server died, or is no longer active: nobody fetches from it or plans for it. */
  memberDown(server: ServerId): void {
    // Also a holder that never was a member (a server in maintenance holding a durable replica): no longer a source.
    this.planner.removeMember(server);
    if (!this.members.delete(server)) return;
    this.outbox.delete(server);
    this.forgetReport(server);
  }

  /** The server reported holding a replica (whole: importing replicas are not reported). */
  reported(server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
    const planned = this.planned.get(handle);
    if (planned === undefined) return;
    if (version > planned.version) this.mark(handle);
    if (version >= planned.version && this.members.has(server)) this.planner.held(server, handle, planned.version);
  }

  /** The server reported the replica gone. */
  removed(server: ServerId, handle: ChunkHandle): void {
    if (this.planned.has(handle) && this.members.has(server)) this.planner.lost(server, handle);
  }

  /** A heartbeat's distribution part: progress of fetches, failures to act on, bytes sent. */
  heartbeat(server: ServerId, progress: readonly DistributionProgress__Output[], copyOutBytes: number): void {
    const inFlight: NodeReport['inFlight'] = new Map();
    // A failure is acted on once: the heartbeats after it repeat it until new sources arrive.
    const before = this.reports.get(server)?.inFlight;
    this.forgetReport(server);
    for (const p of progress.slice(0, LIMITS.distributionProgressPerHeartbeatMax)) {
      const handle = chunkHandle(requireInteger(p.handle, 'distribution.handle'));
      const version = chunkVersion(requireInteger(p.version, 'distribution.version'));
      inFlight.set(handle, { version, receivedBytes: requireInteger(p.receivedBytes, 'distribution.received_bytes'), failed: p.failed, error: p.error });
      const reported = before?.get(handle);
      if (!p.failed || (reported?.failed === true && reported.version === version)) continue;
      const planned = this.planned.get(handle);
      if (planned !== undefined && planned.version === version && this.members.has(server)) {
        this.ctx.logger.warn({ server, handle, version, err: p.error }, 'distribution fetch failed on every source');
        this.planner.failed(server, handle, version);
      }
    }
    this.reports.set(server, { inFlight, copyOutBytes });
    this.countReceiving(server, +1);
  }

  private forgetReport(server: ServerId): void {
    this.countReceiving(server, -1);
    this.reports.delete(server);
  }

  private countReceiving(server: ServerId, sign: 1 | -1): void {
    for (const [handle, p] of this.reports.get(server)?.inFlight ?? []) {
      const inode = this.planned.get(handle)?.inode;
      if (inode !== undefined) this.receivingByFile.set(inode, (this.receivingByFile.get(inode) ?? 0) + sign * p.receivedBytes);
    }
  }

  /**
   * Runs a round on the next turn of the event loop instead of at the next
   * interval: a file just became `all`, or a lease that held a chunk back
   * was given up. Several kicks in one turn make one round.
   */
  kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      try {
        if (this.ctx.leader() === this.leader) this.round();
      } catch (err) {
        // No longer leading (NOT_LEADER): the next leader plans afresh.
        if (!isDfsError(err, 'NOT_LEADER')) this.ctx.logger.error({ err }, 'distribution round failed');
      }
    });
  }

  /** One round: plan what changed, send what the plan changed. */
  round(): void {
    const now = this.ctx.clock.nowMs();
    if (now < this.leader.replicationFromMs) return;
    for (const handle of this.waiting) this.dirty.add(handle);
    this.waiting.clear();
    // Planning a chunk costs one task per member: spread a big plan over rounds so the event loop (and Raft with it) never stalls.
    let budget = LIMITS.distributionTasksPlannedPerRoundMax;
    for (const handle of this.dirty) {
      if (budget <= 0) break;
      this.dirty.delete(handle);
      if (this.reconcile(handle, now)) budget -= this.members.size;
    }
    const changes = this.planner.takeChanges();
    for (const [node, tasks] of changes.tasks) {
      const box = this.boxOf(node);
      for (const task of tasks) {
        box.tasks.set(task.handle, task);
        box.cancels.delete(task.handle);
      }
    }
    for (const [node, handles] of changes.cancels) {
      const box = this.boxOf(node);
      for (const handle of handles) {
        box.tasks.delete(handle);
        box.cancels.add(handle);
      }
    }
    this.sampleRates(now);
    this.send();
  }

  stats(): DistributionStats {
    const planner = this.planner.stats();
    const files = new Set<InodeId>();
    for (const p of this.planned.values()) files.add(p.inode);
    return { files: files.size, chunks: planner.chunks, members: planner.members, tasksOutstanding: planner.tasksOutstanding, tasksSent: this.tasksSent, sendFailures: this.sendFailures };
  }

  isMember(server: ServerId): boolean {
    return this.members.has(server);
  }

  memberIds(): ReadonlySet<ServerId> {
    return this.members;
  }

  /** Every chunk in flight to a member, with the bytes it last reported received. */
  forEachReceiving(fn: (server: ServerId, handle: ChunkHandle, receivedBytes: number) => void): void {
    for (const [server, report] of this.reports) {
      for (const [handle, p] of report.inFlight) if (!p.failed) fn(server, handle, p.receivedBytes);
    }
  }

  copyOutBytes(server: ServerId): number {
    return this.reports.get(server)?.copyOutBytes ?? 0;
  }

  /** When the file's current distribution began, who the origins were, and the recent rate of bytes done. */
  run(inode: InodeId): { startedAtWallMs: number; originSentBytes: number; rateBytesPerS: number } | undefined {
    const run = this.runs.get(inode);
    if (run === undefined) return undefined;
    let originSentBytes = 0;
    for (const [server, atStart] of run.origins) originSentBytes += Math.max(0, this.copyOutBytes(server) - atStart);
    const first = run.samples[0];
    const last = run.samples[run.samples.length - 1];
    const rateBytesPerS = first !== undefined && last !== undefined && last.atMs > first.atMs ? ((last.bytesDone - first.bytesDone) * 1000) / (last.atMs - first.atMs) : 0;
    return { startedAtWallMs: run.startedAtWallMs, originSentBytes, rateBytesPerS };
  }

  /** Bytes of the file held whole by members, plus bytes received of chunks in flight. */
  private bytesDone(inode: InodeId): number {
    const state = this.ctx.state();
    let done = 0;
    state.forEachChunkOf(inode, (handle) => {
      const bytes = state.chunkBytes(handle);
      done += this.planner.holders(handle).size * bytes;
    });
    return done + Math.max(0, this.receivingByFile.get(inode) ?? 0);
  }

  /** Returns true when it planned the chunk (one task per member). */
  private reconcile(handle: ChunkHandle, now: number): boolean {
    const { ctx, leader } = this;
    const state = ctx.state();
    const chunk = state.chunk(handle);
    const goal = state.chunkGoal(handle);
    const planned = this.planned.get(handle);
    if (chunk === undefined || goal?.all !== true) {
      if (planned !== undefined) {
        this.planner.removeChunk(handle);
        this.planned.delete(handle);
      }
      this.releasesAsked.delete(handle);
      return false;
    }
    const version = chunk.confirmedVersion;
    if (version === 0 || planned?.version === version) return false;
    if (leader.leases.isLeased(handle, now)) {
      this.askRelease(handle, now);
      this.waiting.add(handle);
      return false;
    }
    const holders = leader.locations
      .replicasAt(handle, version)
      .filter((id) => leader.registry.get(id)?.alive === true);
    if (holders.length === 0) {
      this.waiting.add(handle);
      return false;
    }
    this.releasesAsked.delete(handle);
    this.startRunIfIdle(chunk.inode, holders, now);
    this.planner.setChunk(handle, version, chunk.index, holders);
    this.planned.set(handle, { version, inode: chunk.inode });
    for (const member of this.members) {
      const held = leader.locations.inventory(member).get(handle);
      if (held !== undefined && held >= version) this.planner.held(member, handle, version);
    }
    return true;
  }

  /**
   * A lease granted before the file was set to `all` is held until it runs
   * out (heartbeats extend it for a while after the last write): ask its
   * primary, once per lease, to give it up as soon as it is idle.
   */
  private askRelease(handle: ChunkHandle, now: number): void {
    const lease = this.leader.leases.current(handle, now);
    const ms = this.ctx.config.distributionLeaseIdleMs;
    if (lease === undefined || ms === 0) return;
    if (this.releasesAsked.get(handle) === lease.version) return;
    this.releasesAsked.set(handle, lease.version);
    const primary = this.leader.registry.get(lease.primary);
    if (primary === undefined) return;
    callUnary(this.ctx.chunkservers.get(primary.address), 'ReleaseWhenIdle', { handle: String(handle), version: String(lease.version), idleReleaseMs: ms }, DISTRIBUTE_TIMEOUT_MS).catch(
      (err: unknown) => this.ctx.logger.debug({ handle, err: (err as Error).message }, 'could not ask a primary to release its lease when idle'),
    );
  }

  /** A file whose every planned chunk was everywhere starts a new run when one of its chunks changes. */
  private startRunIfIdle(inode: InodeId, holders: readonly ServerId[], now: number): void {
    const run = this.runs.get(inode);
    if (run !== undefined && !this.isComplete(inode)) {
      for (const h of holders) if (!run.origins.has(h)) run.origins.set(h, this.copyOutBytes(h));
      return;
    }
    this.runs.set(inode, {
      startedAtMs: now,
      startedAtWallMs: Math.floor(this.ctx.clock.wallUs() / 1000),
      origins: new Map(holders.map((h) => [h, this.copyOutBytes(h)])),
      samples: [],
    });
  }

  private isComplete(inode: InodeId): boolean {
    let complete = true;
    this.ctx.state().forEachChunkOf(inode, (handle) => {
      if (complete && this.planner.holders(handle).size < this.members.size) complete = false;
    });
    return complete;
  }

  private sampleRates(now: number): void {
    for (const [inode, run] of this.runs) {
      if (!this.isDistributed(inode)) {
        this.runs.delete(inode);
        this.receivingByFile.delete(inode);
        continue;
      }
      run.samples.push({ atMs: now, bytesDone: this.bytesDone(inode) });
      while (run.samples.length > 2 && run.samples[0]!.atMs < now - RATE_WINDOW_MS) run.samples.shift();
    }
  }

  private isDistributed(inode: InodeId): boolean {
    try {
      return this.ctx.state().statInode(inode).replicateAll;
    } catch {
      return false;
    }
  }

  private boxOf(node: ServerId) {
    let box = this.outbox.get(node);
    if (box === undefined) {
      box = { tasks: new Map(), cancels: new Set() };
      this.outbox.set(node, box);
    }
    return box;
  }

  /** One Distribute call per node with everything queued for it, a bounded number in flight. */
  private send(): void {
    for (const [node, box] of this.outbox) {
      if (this.sending.size >= LIMITS.distributeCallsInFlightMax) return;
      if (this.sending.has(node)) continue;
      const record = this.leader.registry.get(node);
      if (record === undefined || !record.alive) {
        this.outbox.delete(node);
        continue;
      }
      const tasks = [...box.tasks.values()].slice(0, LIMITS.distributionTasksPerCallMax);
      const cancels = [...box.cancels];
      const wire: DistributionTask[] = [];
      for (const task of tasks) {
        box.tasks.delete(task.handle);
        const sources = task.sources.map((id) => this.leader.registry.get(id)).filter((s) => s !== undefined && s.alive);
        wire.push({ handle: String(task.handle), version: String(task.version), sources: sources.map((s) => serverRef(s!)), order: String(task.order) });
      }
      box.cancels.clear();
      if (box.tasks.size === 0) this.outbox.delete(node);
      this.sending.add(node);
      callUnary(this.ctx.chunkservers.get(record.address), 'Distribute', { tasks: wire, cancel: cancels.map(String) }, DISTRIBUTE_TIMEOUT_MS)
        .then(
          () => {
            this.tasksSent += wire.length;
          },
          (err: unknown) => {
            this.sendFailures++;
            this.ctx.logger.warn({ server: node, err: (err as Error).message }, 'could not send distribution tasks');
            if (isDfsError(err) && err.details.fromTransport) this.leader.registry.markUnreachable(node, this.ctx.clock.nowMs());
            // Put back what is not superseded; the next round sends it again.
            if (!this.members.has(node)) return;
            const box = this.boxOf(node);
            for (const task of tasks) if (!box.tasks.has(task.handle) && !box.cancels.has(task.handle)) box.tasks.set(task.handle, task);
            for (const handle of cancels) if (!box.tasks.has(handle)) box.cancels.add(handle);
          },
        )
        .finally(() => this.sending.delete(node));
    }
  }
}
