import { silentLogger } from '../../common/logger.js';
import { decodeConfChange } from '../../raft/core/conf-change.js';
import type { Message } from '../../raft/core/messages.js';
import { RaftCore } from '../../raft/core/raft-core.js';
import type { Ready } from '../../raft/core/ready.js';
import type { ConfState, Entry, Index, NodeId, ReadState } from '../../raft/core/types.js';
import { MemoryStorage } from '../../raft/storage/memory-storage.js';
import type { SafetyChecker } from './checkers.js';
import { decodeCommand, KvStateMachine } from './kv-state-machine.js';
import type { Prng } from './prng.js';

/** Where a crash interrupts the handling of a Ready. */
export type CrashPoint = 'beforeSend' | 'beforePersist' | 'afterPersist';

/** Deliberate defects, to prove that the checkers catch what they claim to. */
export type SimBug = 'doubleVote' | 'unsyncedEntries' | 'staleRead' | 'leaseTooLong';

export interface NodeHost {
  readonly checker: SafetyChecker;
  readonly bug: SimBug | null;
  readonly compactEvery: number;
  readonly compactKeep: number;
  /** RaftConfig.leaseReadMs for every node; 0 for none. */
  readonly leaseReadMs: number;
  /** The simulation's clock, in virtual milliseconds. */
  now(): number;
  send(from: SimNode, messages: readonly Message[]): void;
  onApplied(node: SimNode, entry: Entry): void;
  onReadState(node: SimNode, readState: ReadState): void;
}

/**
 * One simulated server: a RaftCore driven exactly as the real driver drives it
 * (send, persist, send responses, apply, advance), over a MemoryStorage that
 * plays the disk: a crash keeps whatever the interrupted Ready had persisted
 * and nothing else.
 */
export class SimNode {
  core: RaftCore | null = null;
  incarnation = 0;
  sm = new KvStateMachine();
  applied: Index = 0;
  confState: ConfState = { voters: [], learners: [] };
  crashArmed: CrashPoint | null = null;
  /** A removal of this node was proposed. */
  removing = false;
  /** Removed from the membership by a committed change: no longer restarted. */
  retired = false;
  private commitSeen: Index = 0;

  constructor(
    readonly id: NodeId,
    public storage: MemoryStorage,
    private readonly host: NodeHost,
    private readonly rng: Prng,
    private readonly electionTicks: number,
    private readonly heartbeatTicks: number,
  ) {}

  get alive(): boolean {
    return this.core !== null;
  }

  start(): void {
    if (this.host.bug === 'unsyncedEntries' && this.incarnation > 0) this.loseUnsyncedEntries();
    this.core = new RaftCore({
      id: this.id,
      storage: this.storage,
      electionTicks: this.electionTicks,
      heartbeatTicks: this.heartbeatTicks,
      random: () => this.rng.next(),
      logger: silentLogger,
      maxMessageBytes: 512,
      maxInflightMessages: 4,
      ...(this.host.leaseReadMs > 0 ? { leaseReadMs: this.host.leaseReadMs, monotonicMs: () => this.host.now() } : {}),
    });
    const snap = this.storage.snapshot();
    this.sm = new KvStateMachine();
    this.sm.restore(snap.data);
    this.applied = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.commitSeen = this.storage.initialState().hardState.commit;
    this.process();
  }

  /**
   * The defect: entries were acknowledged but never fsynced, so a restart
   * finds only those its hard state says were committed.
   */
  private loseUnsyncedEntries(): void {
    const old = this.storage;
    const { hardState } = old.initialState();
    const fresh = new MemoryStorage();
    const snap = old.snapshot();
    if (snap.metadata.index > 0) fresh.applySnapshot(snap);
    if (hardState.commit > snap.metadata.index) fresh.append(old.entries(snap.metadata.index + 1, hardState.commit + 1, Infinity));
    fresh.setHardState(hardState);
    this.storage = fresh;
  }

  crash(): void {
    this.core = null;
    this.crashArmed = null;
    this.incarnation++;
  }

  /** Handles every pending Ready, or crashes part way if a crash is armed. */
  process(): void {
    while (this.core !== null && this.core.hasReady()) {
      const core = this.core;
      const rd = core.ready();
      const crash = this.crashArmed;
      if (crash === 'beforeSend') return this.crash();
      this.host.send(this, rd.messages);
      if (crash === 'beforePersist') return this.crash();
      this.observeAppended(rd);
      this.storage.saveSync(rd);
      this.observeCommitted(rd);
      if (crash === 'afterPersist') return this.crash();
      this.host.send(this, rd.messagesAfterPersist);
      if (rd.snapshot !== null) {
        this.sm.restore(rd.snapshot.data);
        this.applied = rd.snapshot.metadata.index;
        this.confState = rd.snapshot.metadata.confState;
      }
      for (const e of rd.committedEntries) {
        if (e.index !== this.applied + 1) this.host.checker.fail(`${this.id} applies index ${e.index} after ${this.applied}`);
        this.host.checker.observeApplied(this.id, e);
        this.applied = e.index;
        if (e.type === 'confChange') this.confState = core.applyConfChange(decodeConfChange(e.data));
        else if (e.data.byteLength > 0) this.sm.apply(decodeCommand(e.data));
        this.host.onApplied(this, e);
      }
      for (const rs of rd.readStates) this.host.onReadState(this, rs);
      core.advance();
      this.maybeCompact();
    }
  }

  private observeAppended(rd: Ready): void {
    let prevTerm = 0;
    rd.entries.forEach((e, i) => {
      if (i === 0) {
        const prev = e.index - 1;
        prevTerm = rd.snapshot !== null && rd.snapshot.metadata.index === prev ? rd.snapshot.metadata.term : this.storage.term(prev);
      } else {
        prevTerm = rd.entries[i - 1]!.term;
      }
      this.host.checker.observeAppended(this.id, e, prevTerm);
    });
  }

  private observeCommitted(rd: Ready): void {
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.metadata;
      this.host.checker.observeCommitted(this.id, index, term);
      this.commitSeen = Math.max(this.commitSeen, index);
    }
    if (rd.hardState === null) return;
    const from = Math.max(this.commitSeen + 1, this.storage.firstIndex());
    for (let i = from; i <= rd.hardState.commit; i++) this.host.checker.observeCommitted(this.id, i, this.storage.term(i));
    this.commitSeen = Math.max(this.commitSeen, rd.hardState.commit);
  }

  private maybeCompact(): void {
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.applied - snapIndex < this.host.compactEvery) return;
    this.storage.createSnapshotSync(this.applied, this.confState, this.sm.snapshot());
    this.storage.compactSync(this.applied - this.host.compactKeep);
  }
}
