import type { ChunkHandle } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';

export interface ChunkReads {
  handle: ChunkHandle;
  reads: number;
}

/**
 * Client Read calls per chunk since the last heartbeat, for the master's
 * hot-chunk replication. Bounded: once LIMITS.heatTrackedChunksMax chunks
 * are counted, reads of others go uncounted until the next interval.
 */
export class ReadHeat {
  private counts = new Map<ChunkHandle, number>();

  record(handle: ChunkHandle): void {
    const n = this.counts.get(handle);
    if (n !== undefined) this.counts.set(handle, n + 1);
    else if (this.counts.size < LIMITS.heatTrackedChunksMax) this.counts.set(handle, 1);
  }

  /** The hottest chunks since the last call, hottest first; counting starts afresh. */
  take(max: number = LIMITS.heatReportedChunksMax): ChunkReads[] {
    const counts = this.counts;
    this.counts = new Map();
    return hottest(counts, max);
  }
}

/** The `max` entries with the most reads, most first (ties: lower handle first). Pure; O(n x max). */
export function hottest(counts: Iterable<readonly [ChunkHandle, number]>, max: number): ChunkReads[] {
  const top: ChunkReads[] = [];
  const before = (a: ChunkReads, b: ChunkReads): boolean => a.reads > b.reads || (a.reads === b.reads && a.handle < b.handle);
  for (const [handle, reads] of counts) {
    const entry = { handle, reads };
    if (top.length === max && !before(entry, top[top.length - 1]!)) continue;
    let at = top.length;
    while (at > 0 && before(entry, top[at - 1]!)) at--;
    top.splice(at, 0, entry);
    if (top.length > max) top.pop();
  }
  return top;
}
