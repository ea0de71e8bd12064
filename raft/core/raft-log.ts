import { assert } from '../../common/assert.js';
import { StorageError, type Storage } from './storage.js';
import { Unstable } from './unstable.js';
import { limitBytes, type Entry, type Index, type Snapshot, type Term } from './types.js';

/**
 * The log as the core sees it: what Storage holds, overlaid by what the driver
 * has not yet persisted (Unstable), plus the commit and applied marks.
 * Invariant: applied <= committed <= lastIndex().
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: Index;
  applied: Index;
  private readonly maxApplyBytes: number;

  /**
   * The application restarts from the stored snapshot, so that is where
   * applying resumes, even if entries before it are still in the log.
   */
  constructor(storage: Storage, maxApplyBytes: number) {
    this.storage = storage;
    this.maxApplyBytes = maxApplyBytes;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    const snapshotIndex = storage.snapshot().metadata.index;
    assert(
      snapshotIndex >= storage.firstIndex() - 1 && snapshotIndex <= storage.lastIndex(),
      `stored snapshot at ${snapshotIndex} is outside the log [${storage.firstIndex() - 1}, ${storage.lastIndex()}]`,
    );
    this.committed = snapshotIndex;
    this.applied = snapshotIndex;
  }

  firstIndex(): Index {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): Index {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of entry i, or undefined if it is compacted or past the end. */
  termIfKnown(i: Index): Term | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  term(i: Index): Term {
    const t = this.termIfKnown(i);
    if (t !== undefined) return t;
    throw new StorageError(i > this.lastIndex() ? 'UNAVAILABLE' : 'COMPACTED', `no term for index ${i}`);
  }

  lastTerm(): Term {
    return this.term(this.lastIndex());
  }

  matchTerm(i: Index, t: Term): boolean {
    return this.termIfKnown(i) === t;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The first entry whose term differs from ours (or that we lack), else 0. */
  findConflict(entries: readonly Entry[]): Index {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`: past it our log cannot
   * match a log whose entry at `index` has term `term`, because terms only grow
   * along a log. Stops (with term 0) where our log is compacted.
   */
  findConflictByTerm(index: Index, term: Term): { index: Index; term: Term } {
    if (index > this.lastIndex()) return { index, term: 0 };
    for (let i = index; i > 0; i--) {
      const t = this.termIfKnown(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * Appends a leader's entries that follow (prevIndex, prevTerm), dropping any
   * conflicting suffix of ours. Returns the index of the last new entry, or
   * null if our log does not contain (prevIndex, prevTerm).
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, commit: Index, entries: readonly Entry[]): Index | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with the committed prefix (committed ${this.committed})`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  append(entries: readonly Entry[]): Index {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    assert(after >= this.committed, `cannot overwrite committed entries: append after ${after}, committed ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The last index whose entry (as in our current log) is already durable. */
  persistedLastIndex(): Index {
    return this.unstable.snapshot !== null ? 0 : this.unstable.offset - 1;
  }

  nextCommittedEntries(): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    return lo < hi ? this.slice(lo, hi, this.maxApplyBytes) : [];
  }

  hasNextCommittedEntries(): boolean {
    return !this.hasPendingSnapshot() && this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(index: Index): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: Index): void {
    assert(index >= this.applied && index <= this.committed, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  stableTo(index: Index, term: Term): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: Index): void {
    this.unstable.stableSnapTo(index);
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Entries from `index` to the end, within maxBytes (at least one). */
  entriesFrom(index: Index, maxBytes: number): Entry[] {
    if (index > this.lastIndex()) return [];
    return this.slice(index, this.lastIndex() + 1, maxBytes);
  }

  /** Entries [lo, hi) within maxBytes (at least one). Throws COMPACTED below firstIndex(). */
  slice(lo: Index, hi: Index, maxBytes: number): Entry[] {
    assert(lo <= hi, `slice(${lo}, ${hi}) is inverted`);
    if (lo < this.firstIndex()) throw new StorageError('COMPACTED', `index ${lo} is compacted`);
    assert(hi <= this.lastIndex() + 1, `slice(${lo}, ${hi}) is past the last index ${this.lastIndex()}`);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      result = this.storage.entries(lo, storedHi, maxBytes);
      if (result.length < storedHi - lo) return result;
    }
    if (hi > offset) {
      const fresh = this.unstable.slice(Math.max(lo, offset), hi);
      result = result.length === 0 ? fresh : result.concat(fresh);
    }
    return limitBytes(result, maxBytes);
  }
}
