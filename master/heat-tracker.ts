import type { ChunkHandle } from '../common/ids.js';

/** Below this rate a chunk is forgotten. */
const FORGET_BELOW_READS_PER_S = 0.5;

export interface HeatOptions {
  /** Read calls per second (over every replica) at which a chunk starts getting extra replicas; 0 turns it off. */
  hotReadsPerS: number;
  /** Most replicas heat alone may ask for. */
  hotReplicasMax: number;
  /** Heat halves in this long without reads. */
  halfLifeMs: number;
}

interface Heat {
  /** Decayed count of reads, as of `atMs`. */
  reads: number;
  atMs: number;
}

/**
 * Per-chunk read heat from chunkservers' reports (reads since their last
 * heartbeat), decayed exponentially, and the replication goal it asks for:
 * one more replica for every `hotReadsPerS` of read rate, up to
 * `hotReplicasMax`. Pure: time is an argument. Holds only chunks that were
 * read lately, so its size follows the hot set, not the chunk table.
 */
export class HeatTracker {
  private readonly heat = new Map<ChunkHandle, Heat>();

  constructor(private readonly options: HeatOptions) {}

  /** Adds reads; returns true when the goal heat asks for changed. */
  record(handle: ChunkHandle, reads: number, nowMs: number, baseGoal: number): boolean {
    if (this.options.hotReadsPerS <= 0 || reads <= 0) return false;
    const before = this.goal(handle, nowMs, baseGoal);
    const h = this.heat.get(handle);
    this.heat.set(handle, { reads: (h === undefined ? 0 : decayed(h, nowMs, this.options.halfLifeMs)) + reads, atMs: nowMs });
    return this.goal(handle, nowMs, baseGoal) !== before;
  }

  /** Reads per second of the chunk now. */
  rate(handle: ChunkHandle, nowMs: number): number {
    const h = this.heat.get(handle);
    return h === undefined ? 0 : (decayed(h, nowMs, this.options.halfLifeMs) * Math.LN2 * 1000) / this.options.halfLifeMs;
  }

  /** The goal with heat: at least `baseGoal`. */
  goal(handle: ChunkHandle, nowMs: number, baseGoal: number): number {
    const { hotReadsPerS, hotReplicasMax } = this.options;
    if (hotReadsPerS <= 0) return baseGoal;
    const extra = Math.floor(this.rate(handle, nowMs) / hotReadsPerS);
    return extra === 0 ? baseGoal : Math.max(baseGoal, Math.min(hotReplicasMax, baseGoal + extra));
  }

  /**
   * Forgets chunks that cooled off, and returns every tracked chunk that is
   * not hot now: the replication manager looks at them again and trims the
   * replicas heat had added.
   */
  cool(nowMs: number): ChunkHandle[] {
    const cooled: ChunkHandle[] = [];
    for (const [handle, h] of this.heat) {
      const rate = (decayed(h, nowMs, this.options.halfLifeMs) * Math.LN2 * 1000) / this.options.halfLifeMs;
      if (rate < FORGET_BELOW_READS_PER_S) {
        this.heat.delete(handle);
        cooled.push(handle);
      } else if (rate < this.options.hotReadsPerS) {
        cooled.push(handle);
      }
    }
    return cooled;
  }

  /** Chunks heat asks more replicas for now. */
  hot(nowMs: number): ChunkHandle[] {
    return [...this.heat.keys()].filter((handle) => this.rate(handle, nowMs) >= this.options.hotReadsPerS);
  }

  size(): number {
    return this.heat.size;
  }
}

function decayed(h: Heat, nowMs: number, halfLifeMs: number): number {
  return h.reads * Math.pow(2, -Math.max(0, nowMs - h.atMs) / halfLifeMs);
}
