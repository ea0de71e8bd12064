import { assert } from '../../common/assert.js';
import type { Entry, Index, Snapshot, Term } from './types.js';

/**
 * The tail of the log that the driver has not yet persisted: an incoming
 * snapshot, and entries from `offset` on. Once a Ready that carried them has
 * been persisted, `stableTo`/`stableSnapTo` hand them over to Storage.
 */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]; lastIndex()+1 of storage when empty. */
  offset: Index;

  constructor(offset: Index) {
    this.offset = offset;
  }

  /** Known only when a snapshot is pending: everything before it is gone. */
  maybeFirstIndex(): Index | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): Index | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  maybeTerm(i: Index): Term | undefined {
    if (i < this.offset) {
      return this.snapshot !== null && this.snapshot.metadata.index === i ? this.snapshot.metadata.term : undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /**
   * Entries through (i, t) are durable. The term check matters: if the tail
   * was replaced by a newer leader's entries meanwhile, nothing became stable.
   */
  stableTo(i: Index, t: Term): void {
    if (i < this.offset || this.maybeTerm(i) !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: Index): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    const after = entries[0]!.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // Replaces the whole unstable tail, and possibly entries already in storage:
      // storage drops its conflicting suffix when these are persisted.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  slice(lo: Index, hi: Index): Entry[] {
    assert(this.offset <= lo && lo <= hi && hi <= this.offset + this.entries.length, `unstable.slice(${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
