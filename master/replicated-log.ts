/**
 * What the master needs from its log, whatever replicates it: today a
 * single-node log in LevelDB (single-node-log.ts), after the Raft issue a
 * Raft group. The state machine behind it is the same either way.
 */
export interface LogStateMachine<Result> {
  /** Applies one committed entry. Deterministic; never throws for bad input. */
  apply(data: Uint8Array, index: number): Result;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

export interface LogStatus {
  role: 'leader' | 'follower' | 'candidate' | 'single';
  term: number;
  commitIndex: number;
  appliedIndex: number;
  leaderAddress: string | undefined;
}

export interface ReplicatedLog<Result> {
  /**
   * Appends an entry, waits until it is committed and applied here, and
   * returns what apply() returned for exactly that entry. Rejects with
   * NOT_LEADER (with a hint), OVERLOADED or UNAVAILABLE.
   */
  propose(data: Uint8Array): Promise<Result>;
  /** Resolves once reading the local state machine is linearizable. */
  readBarrier(): Promise<void>;
  isLeader(): boolean;
  /** Called with true when this node starts leading, false when it stops. */
  onLeadershipChange(listener: (leading: boolean) => void): void;
  status(): LogStatus;
  close(): Promise<void>;
}
