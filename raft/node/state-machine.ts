import type { Index, Term } from '../core/types.js';

export interface AppliedEntry {
  readonly index: Index;
  readonly term: Term;
  readonly data: Uint8Array;
}

/**
 * The application replicated by a RaftGroup. apply() must be deterministic:
 * every member applies the same entries in the same order and must reach the
 * same state and results, so it may not read clocks or randomness (anything
 * time-dependent travels inside the entry). Expected failures are results;
 * a throw is a bug and stops the member.
 */
export interface StateMachine<Result> {
  apply(entry: AppliedEntry): Result;
  /** The whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot() taken on any member. */
  restore(data: Uint8Array): void;
}
