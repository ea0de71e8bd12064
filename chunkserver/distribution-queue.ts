import type { ChunkHandle, ChunkVersion } from '../common/ids.js';

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
 * Queued tasks by ascending (order, seq): a binary heap. Entries of tasks
 * replaced or cancelled since they were pushed stay until popped or
 * compacted; `isCurrent` tells them apart.
 */
export class TaskQueue {
  private heap: QueueEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(entry: QueueEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The first current entry, removed; stale ones before it are dropped. */
  pop(isCurrent: (entry: QueueEntry) => boolean): QueueEntry | undefined {
    while (this.heap.length > 0) {
      const top = this.takeTop();
      if (isCurrent(top)) return top;
    }
    return undefined;
  }

  /** Drops stale entries once they outnumber the current ones, so the heap stays within twice the task table. */
  compact(isCurrent: (entry: QueueEntry) => boolean, current: number): void {
    if (this.heap.length <= 2 * current + 16) return;
    const kept = this.heap.filter(isCurrent);
    this.heap = [];
    for (const entry of kept) this.push(entry);
  }

  private takeTop(): QueueEntry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let least = i;
        if (l < heap.length && before(heap[l]!, heap[least]!)) least = l;
        if (r < heap.length && before(heap[r]!, heap[least]!)) least = r;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}
