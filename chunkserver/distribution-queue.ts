import type { ChunkHandle, ChunkVersion } from '../common/ids.js';
import { MinHeap } from '../common/min-heap.js';

/**
 * The pure parts of the distribution agent: what an incoming task does to
 * the task table, and the order tasks start in.
 */

export type TaskState = 'queued' | 'running' | 'failed';

/**
 * One incoming task against what is here:
 * - done: the replica is here at the version or newer (any older task for the chunk goes);
 * - update: the same version is being fetched: keep the fetch, take the new sources and order;
 * - replace: a task for another version, or one that failed: drop it (abort its fetch), queue this one;
 * - add: nothing for this chunk yet.
 */
export type TaskAction = 'done' | 'update' | 'replace' | 'add';

export function taskAction(
  existing: { version: ChunkVersion; state: TaskState } | undefined,
  version: ChunkVersion,
  heldVersion: ChunkVersion | undefined,
): TaskAction {
  if (heldVersion !== undefined && heldVersion >= version) return 'done';
  if (existing === undefined) return 'add';
  if (existing.version === version && existing.state === 'running') return 'update';
  return 'replace';
}

export interface QueueEntry {
  readonly handle: ChunkHandle;
  readonly order: number;
  /** When the task arrived: equal orders start first come, first served; also tells a stale entry from the current one. */
  readonly seq: number;
}

function before(a: QueueEntry, b: QueueEntry): boolean {
  return a.order < b.order || (a.order === b.order && a.seq < b.seq);
}

/**
 * Queued tasks by ascending (order, seq). Entries of tasks replaced or
 * cancelled since they were pushed stay until popped or compacted;
 * `isCurrent` tells them apart.
 */
export class TaskQueue {
  private readonly heap = new MinHeap<QueueEntry>(before);

  get size(): number {
    return this.heap.size;
  }

  push(entry: QueueEntry): void {
    this.heap.push(entry);
  }

  /** The first current entry, removed; stale ones before it are dropped. */
  pop(isCurrent: (entry: QueueEntry) => boolean): QueueEntry | undefined {
    for (let top = this.heap.pop(); top !== undefined; top = this.heap.pop()) {
      if (isCurrent(top)) return top;
    }
    return undefined;
  }

  /** Drops stale entries once they outnumber the current ones, so the heap stays within twice the task table. */
  compact(isCurrent: (entry: QueueEntry) => boolean, current: number): void {
    if (this.heap.size > 2 * current + 16) this.heap.retain(isCurrent);
  }
}
