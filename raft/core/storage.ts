import type { ConfState, Entry, HardState, Index, Snapshot, Term } from './types.js';

/**
 * What the core reads of the persisted log. Synchronous on purpose: the core
 * is a pure state machine, so an implementation keeps the live part of the log
 * (everything after the last compaction) in memory and persists it elsewhere.
 *
 * The log holds entries firstIndex()..lastIndex(). Index firstIndex()-1 is the
 * last entry covered by the snapshot: its term is still known, its data is not.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries [lo, hi), as many as fit in maxBytes but at least one.
   * Throws StorageError('COMPACTED') if lo < firstIndex().
   */
  entries(lo: Index, hi: Index, maxBytes: number): Entry[];
  /**
   * The term of entry i, for firstIndex()-1 <= i <= lastIndex(). Throws
   * StorageError COMPACTED below that range and UNAVAILABLE above it.
   */
  term(i: Index): Term;
  firstIndex(): Index;
  lastIndex(): Index;
  /** The newest snapshot. May throw SNAPSHOT_TEMPORARILY_UNAVAILABLE. */
  snapshot(): Snapshot;
}

export const STORAGE_ERROR_CODES = [
  // The entry was folded into a snapshot and dropped.
  'COMPACTED',
  // The entry is past the end of the log.
  'UNAVAILABLE',
  // A snapshot older than the one stored was offered.
  'SNAPSHOT_OUT_OF_DATE',
  // No snapshot can be produced right now; the core retries later.
  'SNAPSHOT_TEMPORARILY_UNAVAILABLE',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
