import { assert } from '../../common/assert.js';
import type { RaftConfig } from './config.js';
import type { ConfChange } from './conf-change.js';
import type { Message } from './messages.js';
import { Raft, type RaftStatus } from './raft.js';
import type { Ready } from './ready.js';
import { hardStateEquals, type ConfState, type HardState, type Index, type NodeId, type SoftState, type Term } from './types.js';

export type BasicStatus = Pick<RaftStatus, 'id' | 'role' | 'term' | 'vote' | 'leader' | 'commit' | 'applied' | 'lastIndex'>;

interface InProgress {
  readonly lastEntry: { index: Index; term: Term } | null;
  readonly snapshotIndex: Index | null;
  readonly appliedTo: Index | null;
  readonly committed: Ready['committedEntries'];
}

/**
 * The public face of the core: inputs in, Ready out, advance() when the Ready
 * is done. One Ready at a time; inputs may keep arriving while a Ready is
 * being handled, their effects go into the next one.
 */
export class RaftCore {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inProgress: InProgress | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  /** Appends `data` to the leader's log. Throws RaftError when this node cannot. */
  propose(data: Uint8Array): { index: Index; term: Term } {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): { index: Index; term: Term } {
    return this.raft.proposeConfChange(change);
  }

  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  campaign(): void {
    this.raft.campaign();
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    this.raft.reportSnapshot(id, delivered);
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  /** The cheap part of status(), for callers that poll often. */
  basicStatus(): BasicStatus {
    const r = this.raft;
    return { id: r.id, role: r.role, term: r.term, vote: r.vote, leader: r.lead, commit: r.log.committed, applied: r.log.applied, lastIndex: r.log.lastIndex() };
  }

  hasReady(): boolean {
    if (this.inProgress !== null) return false;
    const r = this.raft;
    const soft = r.softState();
    return (
      soft.leader !== this.prevSoft.leader ||
      soft.role !== this.prevSoft.role ||
      !hardStateEquals(r.hardState(), this.prevHard) ||
      r.log.unstableEntries().length > 0 ||
      r.log.hasPendingSnapshot() ||
      r.msgs.length > 0 ||
      r.msgsAfterPersist.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  ready(): Ready {
    assert(this.inProgress === null, 'ready() called again before advance()');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries();
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hardChanged = !hardStateEquals(hard, this.prevHard);
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      committedEntries,
      messages: r.takeMessages(),
      messagesAfterPersist: r.takeMessagesAfterPersist(),
      readStates: r.takeReadStates(),
      mustSync: entries.length > 0 || snapshot !== null || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    this.prevSoft = soft;
    this.prevHard = hard;
    const last = entries.length > 0 ? entries[entries.length - 1]! : null;
    this.inProgress = {
      lastEntry: last === null ? null : { index: last.index, term: last.term },
      snapshotIndex: snapshot === null ? null : snapshot.metadata.index,
      appliedTo: committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : null,
      committed: committedEntries,
    };
    return rd;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const done = this.inProgress;
    assert(done !== null, 'advance() without a Ready in progress');
    this.inProgress = null;
    const log = this.raft.log;
    if (done.snapshotIndex !== null) {
      log.stableSnapTo(done.snapshotIndex);
      if (done.snapshotIndex > log.applied) log.appliedTo(done.snapshotIndex);
    }
    if (done.lastEntry !== null) log.stableTo(done.lastEntry.index, done.lastEntry.term);
    if (done.appliedTo !== null) {
      log.appliedTo(done.appliedTo);
      this.raft.reduceUncommittedBytes(done.committed);
    }
    this.raft.onPersisted();
  }
}
