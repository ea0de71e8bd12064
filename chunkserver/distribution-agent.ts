import { DfsError, isDfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import { fetchChunk } from './chunk-fetch.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { taskAction, TaskQueue, type QueueEntry, type TaskState } from './distribution-queue.js';

export interface DistributionTaskSpec {
  handle: ChunkHandle;
  version: ChunkVersion;
  sources: ServerRef__Output[];
  order: number;
}

export interface TaskProgress {
  handle: ChunkHandle;
  version: ChunkVersion;
  /** Bytes of the version in place here (a delta's reused ones included). */
  receivedBytes: number;
  failed: boolean;
  error: string;
}

interface Task extends DistributionTaskSpec {
  seq: number;
  state: TaskState;
  receivedBytes: number;
  error: string;
  controller: AbortController | undefined;
  /** Settles when the running fetch has ended. */
  fetch: Promise<void> | undefined;
}

/**
 * The distribution tier on this server: the chunks the master asked it to
 * fetch (Distribute), each from an ordered list of sources, the parent first
 * (followed: it may still be receiving the chunk). Tasks start in ascending
 * `order`, `distributionDownloads` at a time, through chunk-fetch (resuming
 * on the next source, a delta over an older replica held here). A finished
 * chunk is an inventory change like any other; running and failed tasks go
 * out with each heartbeat. A failed task (every source failed) stays failed
 * until a new task or a cancel for its chunk arrives.
 */
export class DistributionAgent {
  private readonly tasks = new Map<ChunkHandle, Task>();
  private readonly queue = new TaskQueue();
  private running = 0;
  private seq = 0;
  private stopped = false;
  private readonly fetches = new Set<Promise<void>>();
  /** Called when a task finished and none is left running or queued: the master should hear it now. */
  onDrained: () => void = () => {};

  constructor(
    private readonly ctx: ChunkserverContext,
    private readonly downloads: number,
  ) {}

  /**
   * Applies one Distribute request: all of it, or nothing (OVERLOADED) if
   * the table would grow past its bound. Returns at once; fetches run on.
   */
  distribute(specs: DistributionTaskSpec[], cancel: ChunkHandle[]): void {
    if (this.stopped) throw new DfsError('UNAVAILABLE', 'chunkserver stopping');
    const incoming = new Map(specs.map((s) => [s.handle, s]));
    const cancelled = new Set(cancel.filter((h) => !incoming.has(h)));
    let size = this.tasks.size;
    for (const h of incoming.keys()) if (!this.tasks.has(h)) size++;
    for (const h of cancelled) if (this.tasks.has(h)) size--;
    if (size > LIMITS.distributionTasksMax) {
      throw new DfsError('OVERLOADED', `${size} distribution tasks would exceed the bound of ${LIMITS.distributionTasksMax}`);
    }
    for (const handle of cancelled) this.drop(handle, 'cancelled');
    for (const spec of incoming.values()) this.accept(spec);
    this.pump();
  }

  /** Running and failed tasks, for the heartbeat (failures capped). */
  progress(): TaskProgress[] {
    const out: TaskProgress[] = [];
    let failures = 0;
    for (const t of this.tasks.values()) {
      if (t.state === 'queued') continue;
      if (t.state === 'failed' && ++failures > LIMITS.distributionFailuresReportedMax) continue;
      out.push({ handle: t.handle, version: t.version, receivedBytes: t.receivedBytes, failed: t.state === 'failed', error: t.error });
    }
    return out;
  }

  /** Tasks by state (metrics). */
  counts(): Record<TaskState, number> {
    const counts = { queued: 0, running: 0, failed: 0 };
    for (const t of this.tasks.values()) counts[t.state]++;
    return counts;
  }

  /** Aborts every fetch and waits for them (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.tasks.values()) t.controller?.abort(new DfsError('UNAVAILABLE', 'chunkserver stopping'));
    while (this.fetches.size > 0) await Promise.allSettled([...this.fetches]);
  }

  private accept(spec: DistributionTaskSpec): void {
    const existing = this.tasks.get(spec.handle);
    const action = taskAction(existing, spec.version, this.ctx.inventory.version(spec.handle));
    switch (action) {
      case 'done':
        if (existing !== undefined) this.drop(spec.handle, 'already held');
        return;
      case 'update':
        existing!.sources = spec.sources;
        existing!.order = spec.order;
        return;
      case 'replace':
        this.drop(spec.handle, 'replaced');
        this.add(spec);
        return;
      case 'add':
        this.add(spec);
        return;
    }
  }

  private add(spec: DistributionTaskSpec): void {
    const task: Task = { ...spec, seq: ++this.seq, state: 'queued', receivedBytes: 0, error: '', controller: undefined, fetch: undefined };
    this.tasks.set(spec.handle, task);
    this.queue.push({ handle: task.handle, order: task.order, seq: task.seq });
    // A peer told to follow this server for the chunk waits for the fetch to begin rather than failing over at once.
    this.ctx.imports.expect(task.handle, task.version);
  }

  /** Forgets the task for `handle`; a running fetch is aborted (what it got stays as the base of the next). */
  private drop(handle: ChunkHandle, why: string): void {
    const task = this.tasks.get(handle);
    if (task === undefined) return;
    this.tasks.delete(handle);
    this.ctx.imports.unexpect(handle);
    task.controller?.abort(new DfsError('UNAVAILABLE', `distribution task ${why}`));
    if (why === 'cancelled') {
      this.discardPartial(task).catch((err: unknown) => this.ctx.logger.warn({ handle, err: (err as Error).message }, 'could not delete a cancelled chunk\'s import'));
    }
  }

  private pump(): void {
    const isCurrent = (e: QueueEntry): boolean => {
      const t = this.tasks.get(e.handle);
      return t !== undefined && t.seq === e.seq && t.state === 'queued';
    };
    while (!this.stopped && this.running < this.downloads) {
      const next = this.queue.pop(isCurrent);
      if (next === undefined) break;
      this.start(this.tasks.get(next.handle)!);
    }
    this.queue.compact(isCurrent, this.tasks.size);
  }

  private start(task: Task): void {
    const { ctx } = this;
    task.state = 'running';
    task.controller = new AbortController();
    this.running++;
    const fetch = fetchChunk(ctx, {
      handle: task.handle,
      version: task.version,
      sources: task.sources,
      follow: true,
      keepPartial: true,
      signal: task.controller.signal,
      fetchedBytes: ctx.metrics.distributionFetchedBytes,
      onProgress: (bytes) => (task.receivedBytes = bytes),
    }).then(
      () => {
        if (this.tasks.get(task.handle) !== task) return;
        this.tasks.delete(task.handle);
        ctx.imports.unexpect(task.handle);
        if (this.counts().queued + this.running === 1) this.onDrained();
      },
      (err: unknown) => {
        if (this.tasks.get(task.handle) !== task) return;
        task.state = 'failed';
        task.error = isDfsError(err) ? `${err.code}: ${err.message}` : String(err);
        // Peers told to follow this server for the chunk fail over at once rather than wait for a fetch that is not coming.
        ctx.imports.unexpect(task.handle);
        ctx.logger.warn({ handle: task.handle, version: task.version, err: task.error }, 'distribution task failed');
      },
    );
    const tracked = fetch.finally(() => {
      this.running--;
      this.fetches.delete(tracked);
      task.controller = undefined;
      task.fetch = undefined;
      this.pump();
    });
    task.fetch = tracked;
    this.fetches.add(tracked);
  }

  /** A cancelled chunk's import (never offered) is deleted once its fetch has ended, unless something else wants the chunk again. */
  private async discardPartial(task: Task): Promise<void> {
    const { ctx } = this;
    const { handle } = task;
    await task.fetch;
    await ctx.chunkLocks.run(handle, async () => {
      if (this.tasks.has(handle) || ctx.imports.isFetching(handle) || ctx.inventory.version(handle) !== undefined) return;
      if (ctx.store.info(handle)?.importing) await ctx.store.delete(handle);
    });
  }
}
