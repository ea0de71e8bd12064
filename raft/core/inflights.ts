import { assert } from '../../common/assert.js';
import type { Index } from './types.js';

/**
 * The append messages sent to one follower in replicate state and not yet
 * acknowledged, as a ring of (last index, bytes). Full when either the count
 * or the byte budget is spent: that is the pipeline's flow control.
 */
export class Inflights {
  private readonly indexes: Index[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes: number,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'inflight capacity must be a positive integer');
    this.indexes = new Array<Index>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  add(index: Index, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    if (this.count > 0) {
      const last = this.indexes[(this.start + this.count - 1) % this.capacity]!;
      assert(index > last, `inflights: index ${index} not above ${last}`);
    }
    const slot = (this.start + this.count) % this.capacity;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last entry is at or below `index`. */
  freeLE(index: Index): void {
    while (this.count > 0 && this.indexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  freeFirst(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  size(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
