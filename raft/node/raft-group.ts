import { assert } from '../../common/assert.js';
import { DfsError, type ErrorCode } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { bootstrapEntries, decodeConfChange, type ConfChange } from '../core/conf-change.js';
import { isRaftError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import { RaftCore } from '../core/raft-core.js';
import type { Ready } from '../core/ready.js';
import { nodeId, type ConfState, type Entry, type HardState, type Index, type NodeId, type Role, type Snapshot, type SoftState, type Term } from '../core/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { RaftTransport } from '../transport/transport.js';
import { leaseReadMs, resolveGroupOptions, type RaftGroupOptions, type ResolvedGroupOptions } from './raft-group-options.js';
import { decodeEnvelope, encodeEnvelope } from './snapshot-envelope.js';
import type { StateMachine } from './state-machine.js';

export type Lifecycle = 'closed' | 'opening' | 'open' | 'closing';

export interface MemberStatus {
  readonly id: string;
  readonly address: string | null;
  readonly role: 'voter' | 'learner';
  /** Replicated through this index, as the leader knows it; null on other members. */
  readonly match: Index | null;
}

export interface RaftGroupStatus {
  readonly id: string;
  readonly address: string;
  readonly lifecycle: Lifecycle;
  readonly role: Role;
  readonly term: Term;
  readonly leader: { readonly id: string; readonly address: string | null } | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly members: readonly MemberStatus[];
  /** Since this member started: for metrics. */
  readonly counters: RaftCounters;
}

export interface RaftCounters {
  /** Times this member learned of a new leader (itself included). */
  readonly leaderChanges: number;
  /** Proposals this member accepted into its log as leader (membership changes included). */
  readonly proposals: number;
  /** Committed entries applied here, from the log (not those a snapshot restore skipped over). */
  readonly entriesApplied: number;
  readonly snapshotsTaken: number;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface PendingProposal extends Waiter<unknown> {
  readonly term: Term;
}

interface PendingRead extends Waiter<void> {
  index: Index | null;
  readonly deadline: number;
  /** The leader that was asked (this member itself, or the leader a follower forwarded to). */
  readonly askedLeader: NodeId | null;
}

interface PendingTransfer extends Waiter<void> {
  readonly to: NodeId;
  readonly deadline: number;
}

interface PendingCatchUp extends Waiter<void> {
  readonly id: NodeId;
  readonly deadline: number;
}

/**
 * One member of a Raft group: the event loop around RaftCore. It ticks the
 * core on a timer, and handles each Ready in the order the core requires:
 * send what may leave now, persist (one atomic, synced write), send the
 * responses that promise what was persisted, apply committed entries, then
 * advance. Proposals resolve with the result of exactly their entry.
 */
export class RaftGroup<Result> {
  readonly id: NodeId;
  readonly address: string;
  private lifecycle: Lifecycle = 'closed';
  private readonly opts: ResolvedGroupOptions;
  private readonly storage: RaftStorage;
  private readonly transport: RaftTransport;
  private readonly sm: StateMachine<Result>;
  private readonly logger: Logger;
  private core: RaftCore | null = null;
  private readonly addresses = new Map<NodeId, string>();
  private confState: ConfState = { voters: [], learners: [] };
  private applied: Index = 0;
  private ticks = 0;
  private role: Role = 'follower';
  private leader: NodeId | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private fatal: unknown = null;
  /** The latest hard state whose only change, the commit index, is not yet written. */
  private unsavedHardState: HardState | null = null;
  private readSeq = 0;
  private readonly proposals = new Map<Index, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private transfers: PendingTransfer[] = [];
  private catchUps: PendingCatchUp[] = [];
  private readonly leadershipListeners: ((leading: boolean) => void)[] = [];
  private readonly counters = { leaderChanges: 0, proposals: 0, entriesApplied: 0, snapshotsTaken: 0 };

  constructor(private readonly options: RaftGroupOptions<Result>) {
    this.opts = resolveGroupOptions(options);
    this.id = nodeId(options.id);
    this.address = options.address;
    this.storage = options.storage;
    this.transport = options.transport;
    this.sm = options.stateMachine;
    this.logger = (options.logger ?? silentLogger).child({ raft: options.id });
  }

  async start(): Promise<void> {
    assert(this.lifecycle === 'closed' && this.core === null, 'a RaftGroup starts once');
    this.lifecycle = 'opening';
    await this.bootstrapIfEmpty();
    const snap = this.storage.snapshot();
    if (snap.metadata.index > 0) this.restoreSnapshot(snap);
    this.addresses.set(this.id, this.address);
    this.core = new RaftCore({
      id: this.id,
      storage: this.storage,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      random: this.options.random ?? Math.random,
      logger: this.logger,
      ...(this.options.leaseReads ? { leaseReadMs: leaseReadMs(this.opts), monotonicMs: () => performance.now() } : {}),
      ...this.options.core,
    });
    this.transport.start({
      receive: (m, senderAddress) => this.receive(m, senderAddress),
      reportUnreachable: (to) => this.core?.reportUnreachable(to),
      reportSnapshot: (to, delivered) => {
        this.core?.reportSnapshot(to, delivered);
        this.kick();
      },
    }, this.address);
    this.timer = setInterval(() => this.tick(), this.opts.tickIntervalMs);
    this.lifecycle = 'open';
    this.kick();
  }

  /** Resolves once everything in flight is settled and storage and transport are closed. */
  async stop(): Promise<void> {
    if (this.lifecycle === 'closed' || this.lifecycle === 'closing') return;
    this.lifecycle = 'closing';
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.loop;
    if (this.unsavedHardState !== null && this.fatal === null) {
      await this.storage.save({ snapshot: null, entries: [], hardState: this.unsavedHardState }, false);
      this.unsavedHardState = null;
    }
    this.rejectAll(new DfsError('UNAVAILABLE', `raft member ${this.id} stopped`));
    await this.transport.stop();
    await this.storage.close();
    this.lifecycle = 'closed';
  }

  /** Replicates `data`; resolves with the state machine's result for exactly this entry. */
  async propose(data: Uint8Array): Promise<Result> {
    const core = this.openCore();
    if (this.proposals.size >= this.opts.maxPendingProposals) {
      throw new DfsError('OVERLOADED', `${this.proposals.size} proposals are already waiting`);
    }
    let placed: { index: Index; term: Term };
    try {
      placed = core.propose(data);
    } catch (err) {
      throw this.mapError(err);
    }
    this.counters.proposals++;
    return this.awaitEntry<Result>(placed);
  }

  /** Resolves once this member's state reflects every write committed before the call. */
  async readIndex(): Promise<void> {
    const core = this.openCore();
    if (this.reads.size >= this.opts.maxPendingReads) {
      throw new DfsError('OVERLOADED', `${this.reads.size} reads are already waiting`);
    }
    const context = `${this.id}/${++this.readSeq}`;
    try {
      core.readIndex(context);
    } catch (err) {
      throw this.mapError(err);
    }
    const askedLeader = core.basicStatus().leader;
    return new Promise<void>((resolve, reject) => {
      this.reads.set(context, { index: null, deadline: this.ticks + this.opts.requestTimeoutTicks, askedLeader, resolve, reject });
      this.kick();
    });
  }

  /** Adds a member: as a learner first, promoted to voter once it has caught up. Leader only. */
  async addMember(id: string, address: string): Promise<void> {
    const member = nodeId(id);
    if (address.length === 0) throw new DfsError('INVALID_ARGUMENT', 'a member needs an address');
    if (this.confState.voters.includes(member)) return;
    if (!this.confState.learners.includes(member)) await this.changeMembership({ type: 'addLearner', nodeId: member, context: address });
    await new Promise<void>((resolve, reject) => {
      this.catchUps.push({ id: member, deadline: this.ticks + this.opts.requestTimeoutTicks, resolve, reject });
      this.checkCatchUps();
    });
    await this.changeMembership({ type: 'addVoter', nodeId: member, context: address });
  }

  /** Removes a member; removing the leader makes it step down once the change is applied. */
  async removeMember(id: string): Promise<void> {
    const member = nodeId(id);
    if (!this.confState.voters.includes(member) && !this.confState.learners.includes(member)) return;
    await this.changeMembership({ type: 'removeNode', nodeId: member, context: '' });
  }

  /** Hands leadership to `id`; resolves when this member sees it lead. Leader only. */
  async transferLeadership(id: string): Promise<void> {
    const core = this.openCore();
    const to = nodeId(id);
    try {
      core.transferLeadership(to);
    } catch (err) {
      throw this.mapError(err);
    }
    if (this.leader === to) return;
    return new Promise<void>((resolve, reject) => {
      this.transfers.push({ to, deadline: this.ticks + this.opts.electionTicks * 2, resolve, reject });
      this.kick();
    });
  }

  /**
   * Called with true when this member becomes leader and false when it stops
   * being leader, after the Ready that changed its role has been handled.
   */
  onLeadershipChange(listener: (leading: boolean) => void): void {
    this.leadershipListeners.push(listener);
  }

  status(): RaftGroupStatus {
    const s = this.core?.status();
    const members: MemberStatus[] = [];
    const conf = s?.confState ?? this.confState;
    for (const [ids, role] of [
      [conf.voters, 'voter'],
      [conf.learners, 'learner'],
    ] as const) {
      for (const id of ids) members.push({ id, address: this.addresses.get(id) ?? null, role, match: s?.progress?.get(id)?.match ?? null });
    }
    const leader = s?.leader ?? null;
    return {
      id: this.id,
      address: this.address,
      lifecycle: this.lifecycle,
      role: s?.role ?? 'follower',
      term: s?.term ?? 0,
      leader: leader === null ? null : { id: leader, address: this.addresses.get(leader) ?? null },
      commit: s?.commit ?? 0,
      applied: this.applied,
      members,
      counters: { ...this.counters },
    };
  }

  // ------------------------------------------------------------- loop

  private receive(m: Message, senderAddress: string): void {
    if (this.lifecycle !== 'open' || this.core === null || this.fatal !== null) return;
    // The log's membership is the authority on addresses; the sender's own
    // word fills in only members we know nothing of yet (we just joined).
    if (senderAddress.length > 0 && !this.addresses.has(m.from)) this.addresses.set(m.from, senderAddress);
    this.core.step(m);
    this.kick();
  }

  private tick(): void {
    if (this.core === null || this.fatal !== null) return;
    this.ticks++;
    this.core.tick();
    this.expireWaiters();
    this.checkCatchUps();
    this.kick();
  }

  private kick(): void {
    if (this.loop !== null || this.lifecycle !== 'open' || this.fatal !== null || this.core === null) return;
    if (!this.core.hasReady()) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
      this.kick();
    });
  }

  private async runLoop(): Promise<void> {
    const core = this.core!;
    try {
      while (this.lifecycle === 'open' && core.hasReady()) await this.handleReady(core, core.ready());
    } catch (err) {
      this.fail(err);
    }
  }

  private async handleReady(core: RaftCore, rd: Ready): Promise<void> {
    this.sendAll(rd.messages);
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.mustSync) {
      await this.storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState ?? this.unsavedHardState }, rd.mustSync);
      this.unsavedHardState = null;
    } else if (rd.hardState !== null) {
      // Only the commit index moved. It need not be durable (a restarted
      // member learns it again from the leader), so it rides with the next
      // write rather than costing a write of its own, which the leader would
      // otherwise wait for before applying the entry and answering its client.
      this.unsavedHardState = rd.hardState;
    }
    this.sendAll(rd.messagesAfterPersist);
    if (rd.snapshot !== null) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(core, e);
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.context);
      if (read !== undefined) read.index = rs.index;
    }
    core.advance();
    if (rd.softState !== null) this.onSoftState(rd.softState);
    this.settleReads();
    await this.maybeSnapshot();
  }

  private sendAll(messages: readonly Message[]): void {
    for (const m of messages) {
      const address = this.addresses.get(m.to);
      if (address === undefined) {
        this.logger.warn({ to: m.to, type: m.type }, 'raft: no address for member, message dropped');
        continue;
      }
      this.transport.send(m, address);
    }
  }

  private applyEntry(core: RaftCore, e: Entry): void {
    let result: unknown;
    if (e.type === 'confChange') {
      const change = decodeConfChange(e.data);
      this.confState = core.applyConfChange(change);
      this.noteMembership(change);
      result = this.confState;
    } else if (e.data.byteLength > 0) {
      result = this.sm.apply({ index: e.index, term: e.term, data: e.data });
    }
    this.applied = e.index;
    this.counters.entriesApplied++;
    const pending = this.proposals.get(e.index);
    if (pending === undefined) return;
    this.proposals.delete(e.index);
    if (pending.term === e.term) pending.resolve(result);
    else pending.reject(this.notLeader('the proposal was overwritten by a newer leader; it was not applied'));
  }

  private noteMembership(change: ConfChange): void {
    if (change.type === 'removeNode') {
      if (change.nodeId !== this.id) {
        this.addresses.delete(change.nodeId);
        this.transport.removePeer(change.nodeId);
      }
    } else if (change.context.length > 0 && change.nodeId !== this.id) {
      this.addresses.set(change.nodeId, change.context);
    }
  }

  private restoreSnapshot(snap: Snapshot): void {
    const envelope = decodeEnvelope(snap.data);
    this.sm.restore(envelope.state);
    for (const [id, address] of envelope.members) if (id !== this.id) this.addresses.set(id, address);
    this.applied = snap.metadata.index;
    this.confState = snap.metadata.confState;
    for (const [index, p] of this.proposals) {
      if (index <= snap.metadata.index) {
        this.proposals.delete(index);
        p.reject(this.notLeader('the proposal was superseded by a snapshot; its outcome is unknown'));
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const last = this.storage.snapshot().metadata.index;
    if (this.applied - last < this.opts.snapshotEveryEntries) return;
    const members = new Map<NodeId, string>();
    for (const id of [...this.confState.voters, ...this.confState.learners]) {
      const address = this.addresses.get(id);
      if (address !== undefined) members.set(id, address);
    }
    // Taken synchronously, so it is exactly the state as of `applied`.
    const index = this.applied;
    const data = encodeEnvelope({ members, state: this.sm.snapshot() });
    await this.storage.createSnapshot(index, this.confState, data);
    await this.storage.compact(Math.max(0, index - this.opts.compactionRetainEntries));
    this.counters.snapshotsTaken++;
    this.logger.info({ index }, 'raft: snapshot taken, log compacted');
  }

  private onSoftState(soft: SoftState): void {
    const wasLeader = this.role === 'leader';
    if (soft.leader !== null && soft.leader !== this.leader) this.counters.leaderChanges++;
    this.role = soft.role;
    this.leader = soft.leader;
    const leading = soft.role === 'leader';
    if (leading !== wasLeader) for (const listener of this.leadershipListeners) listener(leading);
    if (wasLeader && soft.role !== 'leader') {
      const err = this.notLeader('leadership was lost before the entry was applied; its outcome is unknown');
      for (const p of this.proposals.values()) p.reject(err);
      this.proposals.clear();
      for (const c of this.catchUps) c.reject(err);
      this.catchUps = [];
    }
    // Reads not yet confirmed by the leader they were sent to died with its read queue.
    for (const [ctx, r] of this.reads) {
      if (r.index === null && r.askedLeader !== soft.leader) {
        this.reads.delete(ctx);
        r.reject(this.notLeader('leadership changed before the read was confirmed'));
      }
    }
    this.transfers = this.transfers.filter((t) => {
      if (soft.leader !== t.to) return true;
      t.resolve();
      return false;
    });
  }

  private settleReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index !== null && r.index <= this.applied) {
        this.reads.delete(ctx);
        r.resolve();
      }
    }
  }

  private checkCatchUps(): void {
    if (this.catchUps.length === 0 || this.core === null) return;
    const s = this.core.status();
    if (s.role !== 'leader') return;
    this.catchUps = this.catchUps.filter((c) => {
      const pr = s.progress?.get(c.id);
      if (pr === undefined || pr.match + this.opts.catchUpLagEntries < s.commit) return true;
      c.resolve();
      return false;
    });
  }

  private expireWaiters(): void {
    const now = this.ticks;
    for (const [ctx, r] of this.reads) {
      if (r.deadline <= now) {
        this.reads.delete(ctx);
        r.reject(new DfsError('TIMEOUT', 'the read index was not confirmed in time'));
      }
    }
    this.transfers = this.transfers.filter((t) => {
      if (t.deadline > now) return true;
      t.reject(new DfsError('TIMEOUT', `leadership did not move to ${t.to} in time`));
      return false;
    });
    this.catchUps = this.catchUps.filter((c) => {
      if (c.deadline > now) return true;
      c.reject(new DfsError('TIMEOUT', `learner ${c.id} did not catch up in time; it stays a learner`));
      return false;
    });
  }

  // ---------------------------------------------------------- helpers

  private async bootstrapIfEmpty(): Promise<void> {
    const s = this.storage;
    const empty = s.lastIndex() === 0 && s.snapshot().metadata.index === 0 && s.initialState().hardState.term === 0;
    if (!empty || this.options.bootstrap === undefined) return;
    const members = this.options.bootstrap.map((m) => ({ id: nodeId(m.id), context: m.address }));
    assert(members.some((m) => m.id === this.id), `bootstrap members must include this member (${this.id})`);
    const entries = bootstrapEntries(members);
    await s.save({ snapshot: null, entries, hardState: { term: 1, vote: null, commit: entries.length } }, true);
    this.logger.info({ members: members.length }, 'raft: bootstrapped a new cluster');
  }

  private async changeMembership(change: ConfChange): Promise<unknown> {
    const core = this.openCore();
    let placed: { index: Index; term: Term };
    try {
      placed = core.proposeConfChange(change);
    } catch (err) {
      throw this.mapError(err);
    }
    this.counters.proposals++;
    return this.awaitEntry<unknown>(placed);
  }

  private awaitEntry<T>(placed: { index: Index; term: Term }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.proposals.set(placed.index, { term: placed.term, resolve: resolve as (value: unknown) => void, reject });
      this.kick();
    });
  }

  private openCore(): RaftCore {
    if (this.fatal !== null) throw new DfsError('UNAVAILABLE', `raft member ${this.id} failed`, { cause: this.fatal });
    if (this.lifecycle !== 'open' || this.core === null) throw new DfsError('UNAVAILABLE', `raft member ${this.id} is ${this.lifecycle}`);
    return this.core;
  }

  private notLeader(message: string, leader: NodeId | null = this.leader): DfsError {
    const hint = leader === null || leader === this.id ? undefined : this.addresses.get(leader);
    return new DfsError('NOT_LEADER', message, { details: hint === undefined ? {} : { leaderHint: hint } });
  }

  private mapError(err: unknown): DfsError {
    if (err instanceof DfsError) return err;
    if (!isRaftError(err)) return new DfsError('INTERNAL', 'raft: unexpected failure', { cause: err });
    const codes: Record<typeof err.code, ErrorCode> = {
      NOT_LEADER: 'NOT_LEADER',
      TRANSFERRING: 'UNAVAILABLE',
      CONF_CHANGE_PENDING: 'UNAVAILABLE',
      INVALID_CONF_CHANGE: 'INVALID_ARGUMENT',
      INVALID_TRANSFER: 'INVALID_ARGUMENT',
      OVERLOADED: 'OVERLOADED',
    };
    if (err.code === 'NOT_LEADER') {
      const e = this.notLeader(err.message, err.leader);
      return new DfsError('NOT_LEADER', e.message, { cause: err, details: e.details });
    }
    return new DfsError(codes[err.code], err.message, { cause: err });
  }

  /** Storage failed or the state machine threw: this member can no longer be trusted to go on. */
  private fail(err: unknown): void {
    this.fatal = err;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.logger.error({ err }, 'raft: member failed');
    this.rejectAll(new DfsError('UNAVAILABLE', `raft member ${this.id} failed`, { cause: err }));
  }

  private rejectAll(err: DfsError): void {
    for (const p of this.proposals.values()) p.reject(err);
    this.proposals.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
    for (const t of this.transfers) t.reject(err);
    this.transfers = [];
    for (const c of this.catchUps) c.reject(err);
    this.catchUps = [];
  }
}
