import type { Storage } from '../core/storage.js';
import type { ConfState, Entry, HardState, Index, Snapshot } from '../core/types.js';

/** One Ready's worth of state to make durable, written atomically. */
export interface StorageUpdate {
  /** Replaces the whole log; applied before `entries`. */
  readonly snapshot: Snapshot | null;
  /** Appended after dropping any stored entries at or past entries[0].index. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/**
 * The driver's side of storage: the reader the core uses, plus writes.
 * Every write resolves only once it is durable (fsync when `sync`).
 */
export interface RaftStorage extends Storage {
  /** Writes snapshot, entries and hard state in one atomic batch. */
  save(update: StorageUpdate, sync: boolean): Promise<void>;
  /**
   * Records a snapshot of the state machine as of applied index `index`
   * (which must still be in the log) and returns it. Does not drop entries.
   */
  createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Drops entries up to and including `index`, which the stored snapshot must cover. */
  compact(index: Index): Promise<void>;
  close(): Promise<void>;
}
