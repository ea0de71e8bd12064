import { assert } from '../../common/assert.js';
import { Progress } from './progress.js';
import type { ConfState, Index, NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The membership in force and, on a leader, what it knows of each member's log.
 * Also tallies votes. Only voters count towards any quorum.
 */
export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly maxInflight: number,
    private readonly maxInflightBytes: number,
  ) {}

  /** Replaces the membership (on start and when a snapshot is restored). */
  reset(confState: ConfState, nextIndex: Index): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    for (const id of confState.voters) this.addVoter(id, nextIndex);
    for (const id of confState.learners) this.addLearner(id, nextIndex);
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  addVoter(id: NodeId, nextIndex: Index): void {
    this.learners.delete(id);
    this.voters.add(id);
    const pr = this.progress.get(id);
    if (pr !== undefined) {
      pr.isLearner = false;
      return;
    }
    this.progress.set(id, this.newProgress(nextIndex, false));
  }

  addLearner(id: NodeId, nextIndex: Index): void {
    assert(!this.voters.has(id), `cannot demote voter ${id} to learner`);
    this.learners.add(id);
    if (!this.progress.has(id)) this.progress.set(id, this.newProgress(nextIndex, true));
  }

  remove(id: NodeId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
  }

  private newProgress(nextIndex: Index, isLearner: boolean): Progress {
    const pr = new Progress(nextIndex, isLearner, this.maxInflight, this.maxInflightBytes);
    // A newcomer gets the benefit of the doubt so CheckQuorum does not count it absent at once.
    pr.recentActive = true;
    return pr;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The highest index that a quorum of voters holds. */
  committedIndex(): Index {
    if (this.voters.size === 0) return 0;
    const matches: Index[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)!.match);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  /** True if a quorum of voters was heard from in the last round; starts the next round. */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)!.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== self) pr.recentActive = false;
    return active >= this.quorum();
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return this.resultOf(granted, rejected);
  }

  /** Whether acknowledgements from `acks` make a quorum of voters. */
  ackResult(acks: ReadonlySet<NodeId>): VoteResult {
    let granted = 0;
    for (const id of this.voters) if (acks.has(id)) granted++;
    return this.resultOf(granted, 0);
  }

  private resultOf(granted: number, rejected: number): VoteResult {
    const q = this.quorum();
    if (granted >= q) return 'won';
    if (this.voters.size - rejected < q) return 'lost';
    return 'pending';
  }
}
