import { backoffDelayMs, DEFAULT_BACKOFF } from '../common/backoff.js';
import { DfsError } from '../common/errors.js';
import { chunkHandle, chunkVersion, type ChunkHandle } from '../common/ids.js';
import { requireInteger } from '../common/wire-validation.js';
import type { ChunkReplicaInfo__Output } from '../proto/generated/dfs/master/ChunkReplicaInfo.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import type { DistributionAgent } from './distribution-agent.js';
import type { PrimaryChunk } from './primary-chunk.js';

const RETRY_AFTER_FAILURE_MS = 200;
/** How soon a heartbeat goes once the last distribution task is done. */
const SOON_MS = 50;

/**
 * Registration and heartbeats: capacity, load, lease extensions and the
 * inventory changes since the master last acknowledged them, with a digest
 * of the whole inventory so a divergence costs one full report; distribution
 * tasks running or failed, bytes sent to copying peers, and the chunks
 * clients read most. Replies carry deletions (garbage and stale replicas)
 * and extended leases.
 */
export class HeartbeatLoop {
  private intervalMs = 2_000;
  private registered = false;
  /** The last heartbeat failed (the leader moved or is down): try again soon, not a whole interval later. */
  private lastFailed = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** soon() was asked while a heartbeat was on its way (it may have left before the news). */
  private soonAfterRunning = false;

  constructor(
    private readonly ctx: ChunkserverContext,
    private readonly distribution: DistributionAgent,
    private readonly onChunkSize: (bytes: number) => void,
  ) {}

  /** Resolves once the first registration has succeeded. */
  async start(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.register();
        break;
      } catch (err) {
        this.ctx.logger.warn({ err: (err as Error).message, attempt }, 'registration failed; retrying');
        await new Promise((r) => setTimeout(r, Math.max(100, backoffDelayMs(attempt, DEFAULT_BACKOFF, Math.random))));
      }
    }
    this.schedule();
  }

  /**
   * Beats within SOON_MS rather than at the next interval (unless one is on
   * its way): the last distribution task finished, and the master should
   * learn it now, not up to an interval later. At most once per node per
   * batch of tasks, so it adds little to the master's load.
   */
  soon(): void {
    if (this.stopped || !this.registered) return;
    if (this.running !== undefined) {
      this.soonAfterRunning = true;
      return;
    }
    clearTimeout(this.timer);
    this.schedule(SOON_MS);
  }

  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    const jitter = 0.8 + Math.random() * 0.4;
    const delay = delayMs ?? (this.lastFailed ? Math.min(this.intervalMs, RETRY_AFTER_FAILURE_MS) : this.intervalMs) * jitter;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        const soon = this.soonAfterRunning;
        this.soonAfterRunning = false;
        this.schedule(soon ? SOON_MS : undefined);
      });
    }, delay);
  }

  private async tick(): Promise<void> {
    try {
      if (this.registered) await this.heartbeat();
      else await this.register();
      this.lastFailed = false;
    } catch (err) {
      this.lastFailed = true;
      this.ctx.logger.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
    await this.expireLeases();
  }

  private async register(): Promise<void> {
    const { ctx } = this;
    const sentAtMs = ctx.clock.nowMs();
    const primaries = this.leasesWorthKeeping(sentAtMs);
    const response = await ctx.master.register({
      server: ctx.self(),
      capacityBytes: String(ctx.store.capacityBytes()),
      usedBytes: String(ctx.store.usedBytes()),
      chunks: ctx.inventory.full().map((c) => ({ handle: String(c.handle), version: String(c.version), length: String(c.length) })),
      leaseExtensions: primaries.map((p) => ({ handle: String(p.handle), version: String(p.version) })),
    });
    this.applyExtensions(primaries, response.extendedLeases, sentAtMs);
    this.intervalMs = response.heartbeatIntervalMs > 0 ? response.heartbeatIntervalMs : this.intervalMs;
    this.onChunkSize(requireInteger(response.chunkSizeBytes, 'chunk_size_bytes'));
    this.registered = true;
    ctx.logger.info({ chunks: ctx.inventory.count(), intervalMs: this.intervalMs }, 'registered with the master');
    await this.deleteReplicas(response.delete);
  }

  private async heartbeat(): Promise<void> {
    const { ctx } = this;
    const sentAtMs = ctx.clock.nowMs();
    const primaries = this.leasesWorthKeeping(sentAtMs);
    const report = ctx.inventory.pending();
    const response = await ctx.master.heartbeat({
      serverId: ctx.self().id,
      capacityBytes: String(ctx.store.capacityBytes()),
      usedBytes: String(ctx.store.usedBytes()),
      load: { ...ctx.load },
      leaseExtensions: primaries.map((p) => ({ handle: String(p.handle), version: String(p.version) })),
      changed: report.changed.map((c) => ({ handle: String(c.handle), version: String(c.version), length: String(c.length) })),
      removed: report.removed.map(String),
      inventoryDigest: ctx.inventory.digestString(),
      chunkCount: String(ctx.inventory.count()),
      distribution: this.distribution.progress().map((p) => ({
        handle: String(p.handle),
        version: String(p.version),
        receivedBytes: String(p.receivedBytes),
        failed: p.failed,
        error: p.error,
      })),
      copyOutBytes: String(ctx.transfers.copyOutBytes),
      heat: ctx.heat.take().map((h) => ({ handle: String(h.handle), reads: String(h.reads) })),
    });
    ctx.inventory.acknowledge(report);
    this.applyExtensions(primaries, response.extendedLeases, sentAtMs);
    await this.deleteReplicas(response.delete);
    if (response.fullReportWanted) {
      ctx.logger.info('master asked for a full report');
      await this.register();
    }
  }

  private leasesWorthKeeping(nowMs: number): PrimaryChunk[] {
    return this.ctx.pipelines.primaries().filter((p) => p.wantsExtension(nowMs, p.leaseDurationMs));
  }

  private applyExtensions(primaries: PrimaryChunk[], extendedLeases: string[], sentAtMs: number): void {
    const extended = new Set(extendedLeases.map((h) => chunkHandle(requireInteger(h, 'extended_leases'))));
    for (const p of primaries) {
      // Counted from when the request left, which is before the master extended it.
      if (extended.has(p.handle)) p.extendLease(sentAtMs + p.leaseDurationMs);
    }
  }

  /** Deletes what the master judged garbage, unless the replica has moved past the judged version. */
  private async deleteReplicas(deletions: ChunkReplicaInfo__Output[]): Promise<void> {
    const { ctx } = this;
    for (const d of deletions) {
      const handle = chunkHandle(requireInteger(d.handle, 'delete.handle'));
      const judged = chunkVersion(requireInteger(d.version, 'delete.version'));
      // A fetch of a version the master judged garbage too ends first (outside the lock, which it takes to finish).
      const fetching = ctx.imports.fetchingVersion(handle);
      if (fetching !== undefined && fetching <= judged) await ctx.imports.abort(handle, new DfsError('NOT_FOUND', `chunk ${handle} deleted`));
      await ctx.chunkLocks.run(handle, async () => {
        const info = ctx.store.info(handle);
        if (info === undefined) return;
        if (info.version > judged && !info.corrupt) return;
        await ctx.pipelines.replace(handle, undefined, new DfsError('NOT_FOUND', `replica of chunk ${handle} deleted`));
        await ctx.inventory.remove(handle);
        ctx.logger.debug({ handle, version: info.version }, 'replica deleted on the master\'s request');
      });
    }
  }

  private async expireLeases(): Promise<void> {
    const now = this.ctx.clock.nowMs();
    const expired: ChunkHandle[] = [];
    for (const p of this.ctx.pipelines.primaries()) {
      if (!p.leaseValid(now)) {
        expired.push(p.handle);
        await this.ctx.pipelines.retire(p.handle, p.pipeline, new DfsError('LEASE_EXPIRED', `lease on chunk ${p.handle} expired`));
      }
    }
    if (expired.length > 0) this.ctx.logger.debug({ handles: expired }, 'leases expired');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }
}
