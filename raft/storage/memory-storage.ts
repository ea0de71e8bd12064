import { assert } from '../../common/assert.js';
import { StorageError } from '../core/storage.js';
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  limitBytes,
  type ConfState,
  type Entry,
  type HardState,
  type Index,
  type Snapshot,
  type Term,
} from '../core/types.js';
import type { RaftStorage, StorageUpdate } from './raft-storage.js';

/**
 * Storage in memory: for tests and the simulator, where "durable" means
 * "written here", and the in-memory mirror inside LevelDbStorage.
 *
 * The log starts after the compaction point `offset`, whose term is kept.
 * The snapshot is separate: createSnapshot() records one, compact() then
 * drops the entries it covers, so offset <= snapshot index at all times.
 */
export class MemoryStorage implements RaftStorage {
  private hard: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  private offset: Index = 0;
  private offsetTerm: Term = 0;
  /** ents[i] has index offset + 1 + i. */
  private ents: Entry[] = [];

  /**
   * `confState` is the membership of an empty log: tests start clusters this
   * way; the driver bootstraps through conf change entries instead.
   */
  constructor(confState?: ConfState) {
    this.snap = confState === undefined ? EMPTY_SNAPSHOT : { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  firstIndex(): Index {
    return this.offset + 1;
  }

  lastIndex(): Index {
    return this.offset + this.ents.length;
  }

  term(i: Index): Term {
    if (i < this.offset) throw new StorageError('COMPACTED', `index ${i} is compacted (log starts after ${this.offset})`);
    if (i === this.offset) return this.offsetTerm;
    if (i > this.lastIndex()) throw new StorageError('UNAVAILABLE', `index ${i} is past the last index ${this.lastIndex()}`);
    return this.ents[i - this.offset - 1]!.term;
  }

  entries(lo: Index, hi: Index, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new StorageError('COMPACTED', `index ${lo} is compacted (log starts after ${this.offset})`);
    assert(lo <= hi && hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}) outside the log ending at ${this.lastIndex()}`);
    return limitBytes(this.ents.slice(lo - this.offset - 1, hi - this.offset - 1), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hardState: HardState): void {
    this.hard = hardState;
  }

  /** Appends, first dropping any entries at or past entries[0].index. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.offset, `append at ${first} is inside the compacted prefix (up to ${this.offset})`);
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i]!.index === first + i, 'appended entries are not contiguous');
    }
    this.ents = this.ents.slice(0, first - this.offset - 1).concat(entries);
  }

  /** Replaces the whole log with a leader's snapshot. */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.snap.metadata.index || index <= this.offset) {
      throw new StorageError('SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    this.snap = snapshot;
    this.offset = index;
    this.offsetTerm = term;
    this.ents = [];
  }

  /** Records the state machine as of `index`; the entries stay until compact(). */
  createSnapshotSync(index: Index, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new StorageError('SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    assert(index <= this.lastIndex(), `snapshot at ${index} is past the last index ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  compactSync(index: Index): void {
    if (index <= this.offset) return;
    assert(index <= this.snap.metadata.index, `compacting to ${index} past the snapshot at ${this.snap.metadata.index}`);
    this.offsetTerm = this.term(index);
    this.ents = this.ents.slice(index - this.offset);
    this.offset = index;
  }

  /** The compaction point: entries after it are in the log, its own term is still known. */
  logStart(): { index: Index; term: Term } {
    return { index: this.offset, term: this.offsetTerm };
  }

  hardState(): HardState {
    return this.hard;
  }

  /** Loads a complete state read back from disk (LevelDbStorage's mirror). */
  load(state: { hardState: HardState; snapshot: Snapshot; logStart: { index: Index; term: Term }; entries: Entry[] }): void {
    const { hardState, snapshot, logStart, entries } = state;
    entries.forEach((e, i) => assert(e.index === logStart.index + 1 + i, `stored entry ${e.index} out of sequence after ${logStart.index}`));
    const last = logStart.index + entries.length;
    assert(snapshot.metadata.index >= logStart.index && snapshot.metadata.index <= last, `stored snapshot at ${snapshot.metadata.index} outside the log [${logStart.index}, ${last}]`);
    assert(hardState.commit <= last, `stored commit ${hardState.commit} past the last entry ${last}`);
    this.hard = hardState;
    this.snap = snapshot;
    this.offset = logStart.index;
    this.offsetTerm = logStart.term;
    this.ents = entries;
  }

  /** The driver's write: snapshot, entries, hard state, all or nothing (memory cannot fail halfway). */
  saveSync(update: StorageUpdate): void {
    if (update.snapshot !== null) this.applySnapshot(update.snapshot);
    this.append(update.entries);
    if (update.hardState !== null) this.setHardState(update.hardState);
  }

  async save(update: StorageUpdate, _sync: boolean): Promise<void> {
    this.saveSync(update);
  }

  async createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.createSnapshotSync(index, confState, data);
  }

  async compact(index: Index): Promise<void> {
    this.compactSync(index);
  }

  async close(): Promise<void> {}
}
