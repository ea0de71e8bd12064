import { AssertionError } from '../../common/assert.js';
import { bootstrapEntries, type ConfChange } from '../../raft/core/conf-change.js';
import { isRaftError } from '../../raft/core/errors.js';
import type { Message } from '../../raft/core/messages.js';
import { nodeId, type Entry, type Index, type NodeId, type ReadState, type Term } from '../../raft/core/types.js';
import { leaseReadMs } from '../../raft/node/raft-group-options.js';
import { MemoryStorage } from '../../raft/storage/memory-storage.js';
import { checkOperations } from '../lincheck/checker.js';
import { kvModel, type KvOperation } from '../lincheck/kv-model.js';
import { SafetyChecker, SimFailure } from './checkers.js';
import { EventQueue } from './event-queue.js';
import { encodeCommand, type KvCommand } from './kv-state-machine.js';
import { Prng } from './prng.js';
import { SimNode, type CrashPoint, type NodeHost, type SimBug } from './sim-node.js';

export interface SimOptions {
  seed: number;
  /** Initial voters: 3, 5 or 7. Defaults by seed. */
  nodes?: number;
  /** Events in the chaos phase. */
  steps?: number;
  bug?: SimBug;
  /** Keep a trace of faults and leadership changes for failure reports. */
  trace?: boolean;
  /** Lease-based reads (the masters' setting); by default on for even seeds. */
  leaseReads?: boolean;
}

export interface SimStats {
  events: number;
  simTimeMs: number;
  leaders: number;
  committed: number;
  writesAcked: number;
  writesUnknown: number;
  reads: number;
  crashes: number;
  snapshotsSent: number;
  confChanges: number;
  transfers: number;
  messages: number;
  dropped: number;
}

export interface SimResult {
  seed: number;
  nodes: number;
  steps: number;
  ok: boolean;
  failure?: string;
  stats: SimStats;
  trace: string[];
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 3;
const KEYS = ['a', 'b', 'c'];
/** After the faults heal, a leader must be elected and a write must commit within this. */
const LIVENESS_DEADLINE_MS = 15_000;
const MAX_EXTRA_NODES = 3;

interface PendingWrite {
  readonly op: number;
  readonly node: SimNode;
  readonly incarnation: number;
  readonly index: Index;
  readonly term: Term;
  readonly call: number;
  readonly cmd: KvCommand;
  probe: boolean;
}

interface PendingRead {
  readonly op: number;
  readonly node: SimNode;
  readonly incarnation: number;
  readonly key: string;
  readonly call: number;
  /** Highest index of a write acknowledged before this read was called. */
  readonly mustSee: Index;
  index: Index | null;
}

/**
 * One seeded run: a fake clock and network under a random fault schedule,
 * a client workload, and the safety checkers after every event. Then the
 * faults heal and the cluster must make progress again.
 */
export class Simulation implements NodeHost {
  readonly checker = new SafetyChecker();
  readonly bug: SimBug | null;
  readonly compactEvery: number;
  readonly compactKeep: number;
  readonly leaseReadMs: number;
  private readonly queue = new EventQueue();
  private readonly rng: Prng;
  private readonly netRng: Prng;
  private readonly faultRng: Prng;
  private readonly clientRng: Prng;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly initialSize: number;
  private readonly steps: number;
  private readonly cuts = new Set<string>();
  /** Nodes stopped as by SIGSTOP: no ticks, messages and client calls wait, the clock runs on. */
  private readonly pausedUntil = new Map<NodeId, number>();
  private dropRate = 0;
  private dupRate = 0;
  private chaos = true;
  private nextOp = 1;
  private nextNode: number;
  private readonly writes = new Map<string, PendingWrite>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly history: KvOperation[] = [];
  private maxAckedIndex: Index = 0;
  private probeDone = false;
  private readonly traceOn: boolean;
  private readonly traceLines: string[] = [];
  private readonly stats: SimStats = {
    events: 0,
    simTimeMs: 0,
    leaders: 0,
    committed: 0,
    writesAcked: 0,
    writesUnknown: 0,
    reads: 0,
    crashes: 0,
    snapshotsSent: 0,
    confChanges: 0,
    transfers: 0,
    messages: 0,
    dropped: 0,
  };

  constructor(private readonly options: SimOptions) {
    this.rng = new Prng(options.seed);
    this.netRng = this.rng.fork();
    this.faultRng = this.rng.fork();
    this.clientRng = this.rng.fork();
    this.initialSize = options.nodes ?? [3, 5, 7][options.seed % 3]!;
    this.steps = options.steps ?? 3000;
    this.bug = options.bug ?? null;
    this.traceOn = options.trace ?? false;
    this.compactEvery = this.rng.int(8, 40);
    this.compactKeep = this.rng.int(0, 8);
    const lease = options.leaseReads ?? options.seed % 2 === 0;
    // The masters' rule; the defect outlives every follower's refusal to vote.
    this.leaseReadMs =
      this.bug === 'leaseTooLong' ? 3 * ELECTION_TICKS * TICK_MS : lease ? leaseReadMs({ electionTicks: ELECTION_TICKS, tickIntervalMs: TICK_MS }) : 0;
    this.nextNode = this.initialSize + 1;
    // Bootstrapped as the driver does it: the initial membership is in the log,
    // so members added later learn it by replication like everything else.
    const names = Array.from({ length: this.initialSize }, (_, i) => nodeId(`n${i + 1}`));
    const bootstrap = bootstrapEntries(names.map((id) => ({ id, context: '' })));
    for (const id of names) {
      const storage = new MemoryStorage();
      storage.append(bootstrap);
      storage.setHardState({ term: 1, vote: null, commit: bootstrap.length });
      this.addNode(id, storage);
    }
  }

  run(): SimResult {
    let failure: string | undefined;
    try {
      for (const node of this.nodes.values()) node.start();
      this.scheduleFaults();
      this.scheduleClients();
      while (this.stats.events < this.steps && this.queue.step()) this.afterEvent();
      this.heal();
      const deadline = this.queue.now + LIVENESS_DEADLINE_MS;
      this.scheduleProbe();
      while (!this.probeDone && this.queue.now < deadline && this.queue.step()) this.afterEvent();
      if (!this.probeDone) this.checker.fail(`liveness: no write committed within ${LIVENESS_DEADLINE_MS} ms after the faults healed`);
      this.checkHistory();
    } catch (err) {
      if (err instanceof SimFailure) failure = err.message;
      else if (err instanceof AssertionError) failure = `core assertion: ${err.message}`;
      else throw err;
    }
    this.stats.simTimeMs = this.queue.now;
    this.stats.leaders = this.checker.leadersSeen;
    this.stats.committed = this.checker.highestCommitted;
    this.stats.writesUnknown = [...this.writes.values()].filter((w) => !w.probe).length;
    return {
      seed: this.options.seed,
      nodes: this.initialSize,
      steps: this.steps,
      ok: failure === undefined,
      ...(failure === undefined ? {} : { failure }),
      stats: this.stats,
      trace: this.traceLines,
    };
  }

  private trace(line: string): void {
    if (!this.traceOn) return;
    this.traceLines.push(`${String(this.queue.now).padStart(6)} ${line}`);
    if (this.traceLines.length > 400) this.traceLines.shift();
  }

  // ------------------------------------------------------------- nodes

  private addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const node = new SimNode(id, storage, this, this.rng.fork(), ELECTION_TICKS, HEARTBEAT_TICKS);
    this.nodes.set(id, node);
    const phase = this.rng.int(0, TICK_MS - 1);
    const tick = (): void => {
      if (node.core !== null && this.pauseLeft(node) === 0) {
        node.core.tick();
        node.process();
      }
      this.queue.after(TICK_MS, tick);
    };
    this.queue.after(phase + 1, tick);
    return node;
  }

  now(): number {
    return this.queue.now;
  }

  private alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (n.core === null) continue;
      const s = n.core.basicStatus();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Runs after every event: the per-step safety checks. */
  private afterEvent(): void {
    this.stats.events++;
    for (const node of this.nodes.values()) {
      if (node.core === null) continue;
      const s = node.core.basicStatus();
      if (s.role !== 'leader') continue;
      if (this.checker.observeLeader(node.id, s.term)) {
        this.trace(`${node.id} leads term ${s.term} (last ${s.lastIndex}, commit ${s.commit})`);
        const storage = node.storage;
        this.checker.checkLeaderCompleteness(node.id, s.term, storage.firstIndex(), storage.lastIndex(), (i) => storage.term(i));
      }
    }
  }

  // ----------------------------------------------------------- network

  send(from: SimNode, messages: readonly Message[]): void {
    for (const original of messages) {
      let m = original;
      if (this.bug === 'doubleVote' && m.type === 'voteResponse' && m.reject) m = { ...m, reject: false };
      this.stats.messages++;
      if (m.type === 'snapshot') this.stats.snapshotsSent++;
      const incarnation = from.incarnation;
      if (this.cuts.has(`${m.from}>${m.to}`) || this.netRng.chance(this.dropRate)) {
        this.stats.dropped++;
        if (m.type === 'snapshot') this.queue.after(this.netRng.int(5, 30), () => this.reportSnapshot(from, incarnation, m.to, false));
        continue;
      }
      const copies = this.netRng.chance(this.dupRate) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        // Mostly short delays; sometimes long ones, which reorder messages.
        const delay = this.netRng.chance(0.05) ? this.netRng.int(20, 150) : this.netRng.int(1, 8);
        this.queue.after(delay, () => this.deliver(m, from, incarnation));
      }
    }
  }

  /** Virtual ms until `node` runs again; 0 when it runs. */
  private pauseLeft(node: SimNode): number {
    const until = this.pausedUntil.get(node.id);
    return until === undefined || until <= this.queue.now ? 0 : until - this.queue.now;
  }

  private deliver(m: Message, from: SimNode, incarnation: number): void {
    const target = this.nodes.get(m.to);
    const paused = target === undefined ? 0 : this.pauseLeft(target);
    if (paused > 0) {
      this.queue.after(paused, () => this.deliver(m, from, incarnation));
      return;
    }
    if (target === undefined || target.core === null || this.cuts.has(`${m.from}>${m.to}`)) {
      if (m.type === 'snapshot') this.queue.after(5, () => this.reportSnapshot(from, incarnation, m.to, false));
      return;
    }
    target.core.step(m);
    target.process();
    if (m.type === 'snapshot') this.queue.after(this.netRng.int(1, 5), () => this.reportSnapshot(from, incarnation, m.to, true));
  }

  /** The transport's verdict on a snapshot, as a real one learns from its RPC's outcome. */
  private reportSnapshot(from: SimNode, incarnation: number, to: NodeId, delivered: boolean): void {
    if (from.core === null || from.incarnation !== incarnation) return;
    from.core.reportSnapshot(to, delivered);
    from.process();
  }

  // ------------------------------------------------------------ faults

  private scheduleFaults(): void {
    const next = (): void => {
      if (!this.chaos) return;
      this.fault();
      this.queue.after(this.faultRng.int(20, 120), next);
    };
    this.queue.after(this.faultRng.int(100, 300), next);
  }

  private fault(): void {
    const r = this.faultRng;
    const ids = [...this.nodes.keys()];
    const roll = r.int(0, 99);
    if (roll < 10) {
      // Symmetric partition into two random sides.
      this.cuts.clear();
      const side = new Set(ids.filter(() => r.chance(0.5)));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cuts.add(`${a}>${b}`);
      this.trace(`partition ${[...side].join(',')} | ${ids.filter((i) => !side.has(i)).join(',')}`);
    } else if (roll < 16) {
      const a = r.pick(ids);
      const b = r.pick(ids);
      if (a !== b) {
        this.cuts.add(`${a}>${b}`);
        this.trace(`cut ${a}>${b} (one way)`);
      }
    } else if (roll < 22) {
      const l = this.leader();
      if (l !== undefined) {
        for (const b of ids) if (b !== l.id) this.cuts.add(`${l.id}>${b}`).add(`${b}>${l.id}`);
        this.trace(`isolate leader ${l.id}`);
      }
    } else if (roll < 36) {
      this.cuts.clear();
      this.trace('heal partitions');
    } else if (roll < 46) {
      this.crashSome(r.chance(0.4) ? this.leader() : r.pick(this.alive()));
    } else if (roll < 52) {
      this.dropRate = r.pick([0, 0, 0.02, 0.1, 0.3]);
      this.trace(`drop rate ${this.dropRate}`);
    } else if (roll < 56) {
      this.dupRate = r.pick([0, 0.05, 0.2]);
      this.trace(`duplicate rate ${this.dupRate}`);
    } else if (roll < 62) {
      this.addMember();
    } else if (roll < 68) {
      this.removeMember();
    } else if (roll < 76) {
      this.transfer();
    } else if (roll < 80) {
      const l = this.leader();
      if (l !== undefined && this.pauseLeft(l) === 0) {
        const ms = r.int(20, 400);
        this.pausedUntil.set(l.id, this.queue.now + ms);
        this.trace(`pause leader ${l.id} for ${ms} ms`);
      }
    }
  }

  private crashSome(node: SimNode | undefined): void {
    if (node === undefined || node.core === null) return;
    const down = [...this.nodes.values()].filter((n) => !n.alive && !n.retired).length;
    const members = node.confState.voters.length;
    if (down + 1 > Math.floor((members - 1) / 2)) return;
    this.stats.crashes++;
    const r = this.faultRng;
    if (r.chance(0.5)) {
      // Crash inside the next Ready, losing whatever it had not yet persisted.
      const point: CrashPoint = r.pick(['beforeSend', 'beforePersist', 'afterPersist'] as const);
      node.crashArmed = point;
      this.trace(`${node.id} will crash ${point}`);
      this.queue.after(30, () => {
        if (node.crashArmed !== null) node.crash();
      });
    } else {
      node.crash();
      this.trace(`${node.id} crashes`);
    }
    this.queue.after(r.int(50, 600), () => this.restart(node));
  }

  private restart(node: SimNode): void {
    if (node.alive || node.retired) return;
    this.trace(`${node.id} restarts`);
    node.start();
  }

  private addMember(): void {
    const l = this.leader();
    if (l === undefined || this.nextNode > this.initialSize + MAX_EXTRA_NODES) return;
    const id = nodeId(`n${this.nextNode}`);
    if (this.proposeConfChange(l, { type: 'addLearner', nodeId: id, context: '' })) {
      this.nextNode++;
      this.addNode(id, new MemoryStorage()).start();
      this.trace(`${l.id} adds learner ${id}`);
    }
  }

  private removeMember(): void {
    const l = this.leader();
    if (l === undefined) return;
    const voters = l.confState.voters;
    if (voters.length <= 3) return;
    const victim = this.faultRng.pick(voters);
    if (this.proposeConfChange(l, { type: 'removeNode', nodeId: victim, context: '' })) {
      this.nodes.get(victim)!.removing = true;
      this.trace(`${l.id} removes ${victim}`);
    }
  }

  private proposeConfChange(l: SimNode, change: ConfChange): boolean {
    try {
      l.core!.proposeConfChange(change);
    } catch (err) {
      if (isRaftError(err)) return false;
      throw err;
    }
    this.stats.confChanges++;
    l.process();
    return true;
  }

  /** The driver's promotion policy: a learner becomes a voter once it has caught up. */
  private promoteLearners(): void {
    const l = this.leader();
    if (l === undefined || l.core === null) return;
    const status = l.core.status();
    for (const id of status.confState.learners) {
      const pr = status.progress?.get(id);
      if (pr !== undefined && pr.match + 5 >= status.lastIndex && this.proposeConfChange(l, { type: 'addVoter', nodeId: id, context: '' })) {
        this.trace(`${l.id} promotes ${id}`);
        return;
      }
    }
  }

  private transfer(): void {
    const l = this.leader();
    if (l === undefined || l.core === null) return;
    const to = this.faultRng.pick(l.confState.voters);
    try {
      l.core.transferLeadership(to);
    } catch (err) {
      if (isRaftError(err)) return;
      throw err;
    }
    this.stats.transfers++;
    this.trace(`${l.id} transfers leadership to ${to}`);
    l.process();
  }

  private heal(): void {
    this.chaos = false;
    this.cuts.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    for (const n of this.nodes.values()) {
      n.crashArmed = null;
      if (!n.alive && !n.retired) n.start();
    }
    this.trace('faults healed');
  }

  // ----------------------------------------------------------- clients

  private scheduleClients(): void {
    const next = (): void => {
      if (!this.chaos) return;
      this.promoteLearners();
      this.retireRemoved();
      if (this.clientRng.chance(0.7)) this.write(false);
      else this.read();
      this.queue.after(this.clientRng.int(3, 25), next);
    };
    this.queue.after(50, next);
  }

  /** A member whose removal the leader has applied is shut down for good. */
  private retireRemoved(): void {
    const l = this.leader();
    if (l === undefined) return;
    const members = new Set([...l.confState.voters, ...l.confState.learners]);
    for (const n of this.nodes.values()) {
      if (n.removing && !n.retired && !members.has(n.id)) {
        n.retired = true;
        if (n.alive) n.crash();
        this.trace(`${n.id} retired`);
      }
    }
  }

  private scheduleProbe(): void {
    const next = (): void => {
      if (this.probeDone) return;
      const l = this.leader();
      const pending = [...this.writes.values()].some((w) => w.probe && w.node === l && w.incarnation === l?.incarnation);
      if (!pending) this.write(true);
      this.queue.after(50, next);
    };
    next();
  }

  private write(probe: boolean): void {
    const rng = this.clientRng;
    // Clients mostly know the leader; sometimes they ask a stale one.
    const node = probe || rng.chance(0.85) ? this.leader() : rng.pick(this.alive());
    if (node === undefined || node.core === null) return;
    const op = this.nextOp++;
    const cmd: KvCommand = { op, kind: rng.chance(0.5) ? 'put' : 'append', key: rng.pick(KEYS), value: `v${op};` };
    let placed: { index: Index; term: Term };
    try {
      placed = node.core.propose(encodeCommand(cmd));
    } catch (err) {
      if (isRaftError(err)) return;
      throw err;
    }
    this.writes.set(`${node.id}@${placed.index}`, { op, node, incarnation: node.incarnation, ...placed, call: this.queue.now, cmd, probe });
    node.process();
  }

  private read(): void {
    const rng = this.clientRng;
    const node = rng.pick(this.alive());
    if (node.core === null) return;
    const op = this.nextOp++;
    const key = rng.pick(KEYS);
    const read: PendingRead = { op, node, incarnation: node.incarnation, key, call: this.queue.now, mustSee: this.maxAckedIndex, index: null };
    this.startRead(read);
  }

  /** A read reaches its node; one sent to a paused node is handled when it runs again. */
  private startRead(read: PendingRead): void {
    const { node, op } = read;
    if (node.core === null || node.incarnation !== read.incarnation) return;
    const paused = this.pauseLeft(node);
    if (paused > 0) {
      this.queue.after(paused, () => this.startRead(read));
      return;
    }
    if (this.bug === 'staleRead') {
      // The defect: serve from local state without confirming leadership.
      read.index = node.applied;
      this.serveRead(read);
      return;
    }
    try {
      node.core.readIndex(`r${op}`);
    } catch (err) {
      if (isRaftError(err)) return;
      throw err;
    }
    this.reads.set(`r${op}`, read);
    node.process();
  }

  onApplied(node: SimNode, entry: Entry): void {
    const key = `${node.id}@${entry.index}`;
    const w = this.writes.get(key);
    if (w !== undefined && w.incarnation === node.incarnation && w.term === entry.term) {
      this.writes.delete(key);
      this.maxAckedIndex = Math.max(this.maxAckedIndex, entry.index);
      if (w.probe) this.probeDone = true;
      this.stats.writesAcked++;
      this.history.push({ client: `w${w.op}`, input: w.cmd, output: {}, call: w.call, return: this.queue.now });
    }
    for (const [ctx, r] of this.reads) {
      if (r.node === node && r.index !== null && node.applied >= r.index) {
        this.reads.delete(ctx);
        this.serveRead(r);
      }
    }
  }

  onReadState(node: SimNode, rs: ReadState): void {
    const r = this.reads.get(rs.context);
    if (r === undefined || r.node !== node || r.incarnation !== node.incarnation) return;
    r.index = rs.index;
    if (node.applied >= rs.index) {
      this.reads.delete(rs.context);
      this.serveRead(r);
    }
  }

  private serveRead(r: PendingRead): void {
    const node = r.node;
    if (node.applied < r.mustSee) {
      this.checker.fail(
        `linearizability: read of ${r.key} on ${node.id} served at applied index ${node.applied}, but a write at ${r.mustSee} was acknowledged before the read began`,
      );
    }
    this.stats.reads++;
    this.history.push({ client: `r${r.op}`, input: { kind: 'get', key: r.key }, output: { value: node.sm.get(r.key) }, call: r.call, return: this.queue.now });
  }

  private checkHistory(): void {
    const unfinished: KvOperation[] = [...this.writes.values()]
      .filter((w) => !w.probe)
      .map((w) => ({ client: `w${w.op}`, input: w.cmd, output: undefined, call: w.call, return: Infinity }));
    const result = checkOperations(kvModel, [...this.history, ...unfinished], { maxSteps: 2_000_000 });
    if (result.outcome === 'illegal') this.checker.fail(`linearizability: the client history has no linearization\n${result.explanation}`);
  }
}

export function formatResult(r: SimResult): string {
  const s = r.stats;
  const head = `seed=${r.seed} nodes=${r.nodes} steps=${r.steps} ${r.ok ? 'ok' : 'FAIL'}`;
  const body =
    `sim=${(s.simTimeMs / 1000).toFixed(1)}s events=${s.events} leaders=${s.leaders} committed=${s.committed} ` +
    `acked=${s.writesAcked} unknown=${s.writesUnknown} reads=${s.reads} crashes=${s.crashes} snapshots=${s.snapshotsSent} ` +
    `conf=${s.confChanges} transfers=${s.transfers} msgs=${s.messages} dropped=${s.dropped}`;
  return `${head} ${body}`;
}
