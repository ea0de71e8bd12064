/**
 * What the master needs from its log, whatever replicates it (raft-log.ts).
 * The state machine behind it is applied identically on every master.
 */
export interface LogStatus {
  role: 'leader' | 'follower' | 'candidate' | 'preCandidate';
  term: number;
  commitIndex: number;
  appliedIndex: number;
  leaderId: string | undefined;
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
