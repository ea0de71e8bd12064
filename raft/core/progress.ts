import { assert, assertNever } from '../../common/assert.js';
import { Inflights } from './inflights.js';
import type { Index } from './types.js';

/**
 * How the leader feeds one follower:
 * - probe: one append at a time until the follower's log position is found;
 * - replicate: appends stream optimistically, bounded by Inflights;
 * - snapshot: a snapshot is on its way; nothing else is sent until it lands.
 */
export const PROGRESS_STATES = ['probe', 'replicate', 'snapshot'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match: Index = 0;
  /** Next index to send. Invariant: match < next. */
  next: Index;
  state: ProgressState = 'probe';
  /** In snapshot state: the snapshot's index. */
  pendingSnapshot: Index = 0;
  /** Heard from since the last CheckQuorum round (or since it joined). */
  recentActive = false;
  /** In probe state: a probe is out, wait for its answer or a heartbeat response. */
  probeSent = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: Index, isLearner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot's entries.
    const floor = this.state === 'snapshot' ? this.pendingSnapshot : 0;
    this.resetState('probe');
    this.next = Math.max(this.match + 1, floor + 1);
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement through `index`. False if it told us nothing new. */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejection of the append whose prevIndex was `rejected`; the
   * follower's log cannot match past `matchHint`. False if the rejection is
   * stale (an answer to an older probe).
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Notes an append that carried entries up to `lastIndex` (none if `count` is 0). */
  sentEntries(count: number, lastIndex: Index, bytes: number): void {
    switch (this.state) {
      case 'replicate':
        if (count > 0) {
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        return;
      case 'probe':
        this.probeSent = true;
        return;
      case 'snapshot':
        assert(false, 'sent entries to a follower in snapshot state');
        return;
      default:
        assertNever(this.state, 'progress state');
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
      default:
        return assertNever(this.state, 'progress state');
    }
  }
}
