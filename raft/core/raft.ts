import { assert, assertNever } from '../../common/assert.js';
import type { Logger } from '../../common/logger.js';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js';
import { confChangeProblem, encodeConfChange, type ConfChange } from './conf-change.js';
import { RaftError } from './errors.js';
import type {
  AppendMessage,
  AppendResponseMessage,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Message,
  SnapshotMessage,
  VoteMessage,
  VoteResponseMessage,
} from './messages.js';
import { assertWellFormed, mustFollowPersistence } from './messages.js';
import { Progress, type ProgressState } from './progress.js';
import { ProgressTracker } from './progress-tracker.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { isStorageError } from './storage.js';
import {
  entryBytes,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Index,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
  type Term,
} from './types.js';

type CampaignKind = 'preElection' | 'election' | 'transfer';

/** What a leader knows of one member's log, as reported by status(). */
export interface ProgressStatus {
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly leadTransferee: NodeId | null;
  readonly confState: ConfState;
  /** Only on the leader. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | null;
}

/**
 * The Raft protocol as a pure state machine (Ongaro's thesis, with PreVote,
 * CheckQuorum, ReadIndex and leadership transfer). Inputs: step(), tick() and
 * the local requests; outputs accumulate in `msgs`, `msgsAfterPersist` and
 * `readStates` and in the log, which RaftCore packages into Ready structs.
 *
 * Role behaviour lives in stepLeader/stepCandidate/stepFollower and
 * tickElection/tickHeartbeat, and is swapped only by the become*() methods.
 */
export class Raft {
  readonly id: NodeId;
  term: Term = 0;
  vote: NodeId | null = null;
  lead: NodeId | null = null;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  private leadTransferee: NodeId | null = null;
  /** A leader proposes no conf change while this index is unapplied. */
  private pendingConfIndex: Index = 0;
  private uncommittedBytes = 0;
  private readOnly = new ReadOnly();
  /** Read requests that wait until this leader has committed an entry of its own term. */
  private pendingReads: Array<{ context: string; from: NodeId }> = [];

  private electionElapsed = 0;
  /** Ticks since this node started, counted up to electionTicks only. */
  private ticksSinceStart = 0;
  /** The read lease: until then (monotonicMs) no other leader can exist. */
  private leaseUntilMs = -Infinity;
  /** Set once this term's leader asked a follower to take over: no lease holds after that. */
  private leaseRevoked = false;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  private readonly cfg: ResolvedRaftConfig;
  private readonly logger: Logger;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.logger = this.cfg.logger;
    this.log = new RaftLog(this.cfg.storage, this.cfg.maxApplyBytesPerReady);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.tracker = new ProgressTracker(this.cfg.maxInflightMessages, this.cfg.maxInflightBytes);
    this.tracker.reset(confState, this.log.lastIndex() + 1);
    this.loadHardState(hardState);
    this.becomeFollower(this.term, null);
  }

  private loadHardState(hs: HardState): void {
    assert(hs.commit <= this.log.lastIndex(), `stored commit ${hs.commit} is past the last index ${this.log.lastIndex()}`);
    this.log.commitTo(hs.commit);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  status(): RaftStatus {
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (this.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of this.tracker.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          inflight: pr.inflights.size(),
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      leadTransferee: this.leadTransferee,
      confState: this.tracker.confState(),
      progress,
    };
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.ticksSinceStart < this.cfg.electionTicks) this.ticksSinceStart++;
    this.tickRole();
  }

  step(m: Message): void {
    assertWellFormed(m);
    if (m.to !== this.id) {
      this.logger.debug({ id: this.id, type: m.type, to: m.to }, 'raft: dropping a message addressed to another node');
      return;
    }
    // Forwarded read requests are local requests of the follower: no term rules.
    if (m.type === 'readIndex') {
      this.stepRole(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const inLease =
          this.cfg.checkQuorum &&
          ((this.lead !== null && this.electionElapsed < this.cfg.electionTicks) ||
            // A leader's read lease may count on our ack from before we restarted.
            (this.cfg.leaseReadMs > 0 && this.ticksSinceStart < this.cfg.electionTicks));
        if (inLease && !m.transfer) {
          // Thesis §4.2.3: a server that hears from a leader within the minimum
          // election timeout ignores vote requests, so removed or partitioned
          // servers cannot depose a healthy leader.
          this.logger.debug({ id: this.id, from: m.from, term: m.term }, 'raft: ignoring a vote request within the leader lease');
          return;
        }
      }
      if (m.type === 'preVote') {
        // A pre-vote does not change our term: the candidate has not campaigned yet.
      } else if (m.type === 'preVoteResponse' && !m.reject) {
        // Granted pre-votes carry the future term the candidate asked about.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      this.answerStaleMessage(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  /** §5.1: a request with a stale term is rejected with our term, which makes the sender catch up. */
  private answerStaleMessage(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
        this.send({ type: 'appendResponse', to: m.from, term: this.term, index: 0, reject: true, hintIndex: 0, hintTerm: 0 });
        return;
      case 'vote':
      case 'preVote':
        this.send({ type: m.type === 'vote' ? 'voteResponse' : 'preVoteResponse', to: m.from, term: this.term, reject: true });
        return;
      default:
        this.logger.debug({ id: this.id, type: m.type, from: m.from, term: m.term }, 'raft: ignoring a message from an older term');
    }
  }

  private handleVoteRequest(m: VoteMessage): void {
    const response = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    // §5.2: at most one vote per term, first come first served. A pre-vote
    // for a future term promises nothing, so it needs no free vote.
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: response, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: response, to: m.from, term: this.term, reject: true });
    }
  }

  /** Starts an election now, as if the election timeout had elapsed. */
  campaign(): void {
    this.hup(false);
  }

  propose(data: Uint8Array): { index: Index; term: Term } {
    return this.appendProposal('normal', data);
  }

  proposeConfChange(change: ConfChange): { index: Index; term: Term } {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new RaftError('CONF_CHANGE_PENDING', `a membership change at index ${this.pendingConfIndex} is not yet applied`, this.lead);
    }
    const problem = confChangeProblem(change, this.tracker.confState());
    if (problem !== null) throw new RaftError('INVALID_CONF_CHANGE', problem, this.lead);
    const proposed = this.appendProposal('confChange', encodeConfChange(change));
    this.pendingConfIndex = proposed.index;
    return proposed;
  }

  /**
   * Asks for a read index (thesis §6.4). The answer arrives as a ReadState with
   * the same context, here or, for a follower, once the leader has replied.
   */
  readIndex(context: string): void {
    assert(context.length > 0, 'a read index context must not be empty');
    if (this.role === 'leader') {
      this.serveReadIndex(context, this.id);
      return;
    }
    if (this.lead === null) throw new RaftError('NOT_LEADER', 'no leader is known to serve the read', null);
    this.send({ type: 'readIndex', to: this.lead, term: 0, context });
  }

  /** Thesis §3.10: hand leadership to `to` once its log is up to date. */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new RaftError('NOT_LEADER', 'only the leader can transfer leadership', this.lead);
    if (to === this.id) {
      this.leadTransferee = null;
      return;
    }
    if (!this.tracker.voters.has(to)) throw new RaftError('INVALID_TRANSFER', `${to} is not a voter`, this.lead);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.tracker.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /** Puts a committed membership change into force; the driver calls it when it applies the entry. */
  applyConfChange(change: ConfChange): ConfState {
    const next = this.log.lastIndex() + 1;
    // The acks behind the lease were counted against the old membership.
    this.leaseUntilMs = -Infinity;
    const { nodeId: id } = change;
    let added = false;
    switch (change.type) {
      case 'addVoter':
        added = !this.tracker.isMember(id);
        this.tracker.addVoter(id, next);
        break;
      case 'addLearner':
        if (this.tracker.voters.has(id)) {
          this.logger.warn({ id: this.id, node: id }, 'raft: ignoring a committed demotion of a voter');
        } else {
          added = !this.tracker.isMember(id);
          this.tracker.addLearner(id, next);
        }
        break;
      case 'removeNode':
        if (this.tracker.voters.has(id) && this.tracker.voters.size === 1) {
          this.logger.warn({ id: this.id, node: id }, 'raft: ignoring a committed removal of the last voter');
        } else {
          this.tracker.remove(id);
        }
        break;
      default:
        assertNever(change.type, 'conf change type');
    }
    if (this.role === 'leader') {
      if (!this.tracker.voters.has(this.id)) {
        // A leader that is no longer a voter cannot count itself: step down and
        // let the remaining members elect one of their own.
        this.becomeFollower(this.term, null);
      } else {
        if (this.leadTransferee !== null && !this.tracker.voters.has(this.leadTransferee)) this.leadTransferee = null;
        // Removing a voter can shrink the quorum and so commit more.
        if (this.maybeCommit()) this.bcastAppend();
        else if (added) this.sendAppend(id);
      }
    }
    return this.tracker.confState();
  }

  reportUnreachable(id: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(id);
    // Pipelined appends to a peer we cannot reach are likely lost: probe again.
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(id);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!delivered) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // After a delivered snapshot wait for the follower's answer; after a failed
    // one wait for a heartbeat round before trying again.
    pr.probeSent = true;
  }

  // ------------------------------------------------------ Ready hand-offs

  takeMessages(): Message[] {
    const out = this.msgs;
    this.msgs = [];
    return out;
  }

  takeMessagesAfterPersist(): Message[] {
    const out = this.msgsAfterPersist;
    this.msgsAfterPersist = [];
    return out;
  }

  takeReadStates(): ReadState[] {
    const out = this.readStates;
    this.readStates = [];
    return out;
  }

  /** Called once a Ready's entries are durable: only now may the leader count its own copy. */
  onPersisted(): void {
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined && self.maybeUpdate(this.log.persistedLastIndex())) this.maybeCommit();
  }

  /** Committed entries were handed to the application: they no longer count against the uncommitted limit. */
  reduceUncommittedBytes(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    let bytes = 0;
    for (const e of entries) if (e.term === this.term) bytes += e.data.byteLength;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  // ------------------------------------------------------- role switching

  becomeFollower(term: Term, lead: NodeId | null): void {
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition: leader -> preCandidate');
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.tracker.resetVotes();
    this.lead = null;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition: leader -> candidate');
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `invalid transition: ${this.role} -> leader`);
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickHeartbeat();
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.tracker.progress.get(this.id)!.becomeReplicate();
    // §8: a no-op entry of our term lets us commit (and learn) everything before it.
    // No membership change until it is applied: changes already in the log may
    // be uncommitted, and a leader must commit in its own term before changing
    // the membership (the single-server change fix, thesis §4.1 erratum).
    this.pendingConfIndex = this.appendEntry('normal', new Uint8Array(0));
    this.logger.info({ id: this.id, term: this.term }, 'raft: became leader');
    this.bcastAppend();
  }

  private reset(term: Term): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(this.cfg.random() * this.cfg.electionTicks);
    this.leadTransferee = null;
    this.tracker.resetVotes();
    const next = this.log.lastIndex() + 1;
    for (const [id, old] of this.tracker.progress) {
      const pr = new Progress(next, old.isLearner, this.cfg.maxInflightMessages, this.cfg.maxInflightBytes);
      if (id === this.id) pr.match = this.log.persistedLastIndex();
      this.tracker.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReads = [];
    this.leaseUntilMs = -Infinity;
    this.leaseRevoked = false;
  }

  // ------------------------------------------------------------ elections

  private promotable(): boolean {
    return this.tracker.voters.has(this.id) && !this.log.hasPendingSnapshot();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.logger.debug({ id: this.id }, 'raft: not a voter, not campaigning');
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      // Campaigning under a membership that is about to change could count the wrong quorum.
      this.logger.debug({ id: this.id }, 'raft: committed membership changes are unapplied, not campaigning');
      return;
    }
    this.campaignAs(transfer ? 'transfer' : this.cfg.preVote ? 'preElection' : 'election');
  }

  private hasUnappliedConfChanges(): boolean {
    let lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const hi = this.log.committed + 1;
    while (lo < hi) {
      const page = this.log.slice(lo, hi, this.cfg.maxApplyBytesPerReady);
      for (const e of page) if (e.type === 'confChange') return true;
      lo += page.length;
    }
    return false;
  }

  private campaignAs(kind: CampaignKind): void {
    let type: 'vote' | 'preVote';
    let term: Term;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      // A single voter wins outright.
      if (kind === 'preElection') this.campaignAs('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.send({ type, to: id, term, lastIndex, lastTerm, transfer: kind === 'transfer' });
    }
  }

  private pollVote(m: VoteResponseMessage): void {
    this.tracker.recordVote(m.from, !m.reject);
    switch (this.tracker.tallyVotes()) {
      case 'won':
        if (this.role === 'preCandidate') this.campaignAs('election');
        else this.becomeLeader();
        return;
      case 'lost':
        this.becomeFollower(this.term, null);
        return;
      case 'pending':
        return;
    }
  }

  // ------------------------------------------------------- role behaviour

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.logger.info({ id: this.id, from: m.from, term: this.term }, 'raft: leadership transfer requested, campaigning');
        this.hup(true);
        return;
      case 'readIndexResponse':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        this.logger.debug({ id: this.id, type: m.type, from: m.from }, 'raft: follower ignores message');
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'voteResponse':
        if (this.role === 'candidate') this.pollVote(m);
        return;
      case 'preVoteResponse':
        if (this.role === 'preCandidate') this.pollVote(m);
        return;
      default:
        this.logger.debug({ id: this.id, type: m.type, from: m.from }, 'raft: candidate ignores message');
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appendResponse':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResponse':
        this.handleHeartbeatResponse(m);
        return;
      case 'readIndex':
        if (this.tracker.isMember(m.from)) this.serveReadIndex(m.context, m.from);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // §5.2 allows one leader per term; another one here means a broken peer.
        this.logger.error({ id: this.id, from: m.from, term: m.term }, 'raft: another leader claims our term');
        return;
      default:
        this.logger.debug({ id: this.id, type: m.type, from: m.from }, 'raft: leader ignores message');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.logger.warn({ id: this.id, term: this.term }, 'raft: lost contact with a quorum, stepping down');
        this.becomeFollower(this.term, null);
        return;
      }
      if (this.leadTransferee !== null) {
        this.logger.info({ id: this.id, to: this.leadTransferee }, 'raft: leadership transfer timed out');
        this.leadTransferee = null;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // --------------------------------------------------------- replication

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new RaftError('NOT_LEADER', 'not the leader', this.lead);
    if (!this.tracker.voters.has(this.id)) throw new RaftError('NOT_LEADER', 'this leader is leaving the group', null);
    if (this.leadTransferee !== null) {
      throw new RaftError('TRANSFERRING', `leadership is being transferred to ${this.leadTransferee}`, this.id);
    }
  }

  private appendProposal(type: EntryType, data: Uint8Array): { index: Index; term: Term } {
    this.checkCanPropose();
    const limit = this.cfg.maxUncommittedBytes;
    // An empty pipeline always accepts one proposal, however large.
    if (limit > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + data.byteLength > limit) {
      throw new RaftError('OVERLOADED', `${this.uncommittedBytes} bytes of proposals are uncommitted`, this.id);
    }
    this.uncommittedBytes += data.byteLength;
    const index = this.appendEntry(type, data);
    this.bcastAppend();
    return { index, term: this.term };
  }

  private appendEntry(type: EntryType, data: Uint8Array): Index {
    const index = this.log.lastIndex() + 1;
    this.log.append([{ term: this.term, index, type, data }]);
    return index;
  }

  private maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    // §5.4.2: only entries of the current term are committed by counting replicas.
    if (index <= this.log.committed || this.log.termIfKnown(index) !== this.term) return false;
    this.log.commitTo(index);
    this.releasePendingReads();
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append to `to` if flow control allows. True if something was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    assert(prevIndex <= this.log.lastIndex(), `progress of ${to} is past our log: next ${pr.next}, last ${this.log.lastIndex()}`);
    const prevTerm = this.log.termIfKnown(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.entriesFrom(pr.next, this.cfg.maxMessageBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed });
    let bytes = 0;
    for (const e of entries) bytes += entryBytes(e);
    pr.sentEntries(entries.length, prevIndex + entries.length, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // Do not keep shipping snapshots to a member that has not answered lately.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (isStorageError(err, 'SNAPSHOT_TEMPORARILY_UNAVAILABLE')) return false;
      throw err;
    }
    assert(snapshot.metadata.index > 0, 'the log is compacted but there is no snapshot');
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'snapshot', to, term: this.term, snapshot });
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    // The transferee campaigns past every follower's lease check.
    this.leaseRevoked = true;
    this.send({ type: 'timeoutNow', to, term: this.term });
  }

  private bcastHeartbeat(): void {
    const context = this.readOnly.lastContext();
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      // Never let a follower commit past what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', to: id, term: this.term, commit, context });
    }
  }

  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.send({ type: 'appendResponse', to: m.from, term: this.term, index: this.log.committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const last = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (last !== null) {
      this.send({ type: 'appendResponse', to: m.from, term: this.term, index: last, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    // §5.3 with the thesis's optimisation: tell the leader where our log can
    // still match, so it skips every entry of a conflicting term at once.
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({
      type: 'appendResponse',
      to: m.from,
      term: this.term,
      index: m.prevIndex,
      reject: true,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResponse', to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const index = this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send({ type: 'appendResponse', to: m.from, term: this.term, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  /** Installs a leader's snapshot. False if our log already covers it. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === 'follower', `restoring a snapshot as ${this.role}`);
    if (this.log.matchTerm(index, term)) {
      // Our log already has the snapshot's last entry: just commit up to it.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.reset(snapshot.metadata.confState, this.log.lastIndex() + 1);
    this.logger.info({ id: this.id, index, term }, 'raft: restored a snapshot');
    return true;
  }

  private handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      const next = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    // An ack of exactly `match` while probing still tells us where the follower is.
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        if (pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'replicate':
        pr.inflights.freeLE(m.index);
        break;
      default:
        assertNever(pr.state, 'progress state');
    }
    // Followers learn of a commit with the next append or heartbeat, not from
    // a message of its own: telling them at once cost each entry a second
    // append, a second answer and a second durable write on every follower,
    // while the leader alone serves clients and needs no follower to apply.
    this.maybeCommit();
    while (this.maybeSendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info({ id: this.id, to: m.from }, 'raft: transfer target caught up, sending TimeoutNow');
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.match < this.log.lastIndex()) {
      // A live follower that lags with a full pipeline has likely lost the
      // appends that filled it: free a slot so that one more append goes out;
      // if there is a gap, its rejection sends the follower back to probing.
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
      this.sendAppend(m.from);
    }
    if (m.context === '') return;
    const acks = this.readOnly.ack(m.from, m.context);
    if (acks === undefined || this.tracker.ackResult(acks) !== 'won') return;
    for (const req of this.readOnly.release(m.context)) {
      this.leaseUntilMs = Math.max(this.leaseUntilMs, req.sentAtMs + this.cfg.leaseReadMs);
      this.answerRead(req.index, req.context, req.from);
    }
  }

  // ------------------------------------------------------------ reads

  private serveReadIndex(context: string, from: NodeId): void {
    if (this.log.termIfKnown(this.log.committed) !== this.term) {
      // Thesis §6.4 step 1: until an entry of this term commits, our commit
      // index may be behind what earlier leaders committed.
      this.pendingReads.push({ context, from });
      return;
    }
    if (this.tracker.voters.size === 1 && this.tracker.voters.has(this.id)) {
      this.answerRead(this.log.committed, context, from);
      return;
    }
    const lease = this.cfg.leaseReadMs > 0;
    const now = lease ? this.cfg.monotonicMs() : -Infinity;
    if (lease && !this.leaseRevoked && this.leadTransferee === null && now < this.leaseUntilMs) {
      this.answerRead(this.log.committed, context, from);
      return;
    }
    this.readOnly.add(this.log.committed, context, from, now);
    this.readOnly.ack(this.id, context);
    this.bcastHeartbeat();
  }

  private releasePendingReads(): void {
    if (this.pendingReads.length === 0) return;
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.serveReadIndex(r.context, r.from);
  }

  private answerRead(index: Index, context: string, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'readIndexResponse', to: from, term: this.term, index, context });
  }

  // ------------------------------------------------------------ output

  private send(m: DistributiveOmit<Message, 'from'>): void {
    const full = { ...m, from: this.id } as Message;
    if (mustFollowPersistence(full.type)) this.msgsAfterPersist.push(full);
    else this.msgs.push(full);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

