import { silentLogger } from '../../../common/logger.js';
import type { RaftConfig } from '../../../raft/core/config.js';
import { bootstrapEntries, decodeConfChange } from '../../../raft/core/conf-change.js';
import type { Message } from '../../../raft/core/messages.js';
import { RaftCore } from '../../../raft/core/raft-core.js';
import type { RaftStatus } from '../../../raft/core/raft.js';
import type { Ready } from '../../../raft/core/ready.js';
import { nodeId, type Entry, type NodeId, type ReadState } from '../../../raft/core/types.js';
import { MemoryStorage } from '../../../raft/storage/memory-storage.js';

const HEARTBEAT_TICKS = 1;

/** A core with its storage, driven synchronously the way the real driver does. */
export class TestNode {
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  readonly readies: Ready[] = [];
  core: RaftCore;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    readonly config: Partial<RaftConfig>,
  ) {
    this.core = this.boot();
  }

  private boot(): RaftCore {
    return new RaftCore({
      id: this.id,
      storage: this.storage,
      electionTicks: 10,
      heartbeatTicks: HEARTBEAT_TICKS,
      random: () => 0,
      logger: silentLogger,
      ...this.config,
    });
  }

  /** Loses everything volatile; storage keeps what the Readies persisted. */
  restart(): void {
    this.core = this.boot();
  }

  /** Handles every pending Ready; returns the messages they produced, in send order. */
  drain(): Message[] {
    const out: Message[] = [];
    while (this.core.hasReady()) {
      const rd = this.core.ready();
      this.readies.push(rd);
      out.push(...rd.messages);
      this.storage.saveSync(rd);
      out.push(...rd.messagesAfterPersist);
      for (const e of rd.committedEntries) {
        this.applied.push(e);
        if (e.type === 'confChange') this.core.applyConfChange(decodeConfChange(e.data));
      }
      this.readStates.push(...rd.readStates);
      this.core.advance();
    }
    return out;
  }

  /** Status with ids as plain strings, so that assertions can name nodes as 'n1'. */
  get status(): Loose<RaftStatus> {
    return this.core.status();
  }
}

/** A type with every NodeId loosened to string, for assertions. */
export type Loose<T> = T extends NodeId
  ? string
  : T extends Uint8Array
    ? T
    : T extends ReadonlyMap<infer K, infer V>
      ? ReadonlyMap<Loose<K>, Loose<V>>
      : T extends ReadonlyArray<infer U>
        ? ReadonlyArray<Loose<U>>
        : T extends object
          ? { [K in keyof T]: Loose<T[K]> }
          : T;

export function ids(...names: string[]): NodeId[] {
  return names.map(nodeId);
}

export interface NodeSetup {
  learners?: string[];
  /** Terms of the entries at indexes 1, 2, ... already in the log. */
  log?: number[];
  term?: number;
  vote?: string;
  commit?: number;
}

export function newNode(id: string, voters: string[], config: Partial<RaftConfig> = {}, setup: NodeSetup = {}): TestNode {
  const storage = new MemoryStorage({ voters: ids(...voters), learners: ids(...(setup.learners ?? [])) });
  if (setup.log !== undefined) storage.append(ents(setup.log));
  const term = setup.term ?? (setup.log?.length ? setup.log[setup.log.length - 1]! : 0);
  storage.setHardState({ term, vote: setup.vote === undefined ? null : nodeId(setup.vote), commit: setup.commit ?? 0 });
  return new TestNode(nodeId(id), storage, config);
}

/** Entries with the given terms at start, start+1, ...; data names the index. */
export function ents(terms: number[], start = 1): Entry[] {
  return terms.map((term, i) => ({ term, index: start + i, type: 'normal' as const, data: bytes(`e${start + i}`) }));
}

/** Plain Raft, for the tests of the paper's rules: no PreVote, no CheckQuorum. */
export const PLAIN: Partial<RaftConfig> = { preVote: false, checkQuorum: false };

type Narrow<M, T> = M extends { type: infer U } ? (T extends U ? M : never) : never;
/** The message interface whose `type` admits T (vote and preVote share one). */
export type MessageOf<T extends Message['type']> = Narrow<Message, T>;
type Fields<T extends Message['type']> = Partial<Omit<MessageOf<T>, 'type' | 'from' | 'to'>>;

const DEFAULTS: { [T in Message['type']]: Fields<T> } = {
  append: { prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
  appendResponse: { index: 0, reject: false, hintIndex: 0, hintTerm: 0 },
  vote: { lastIndex: 0, lastTerm: 0, transfer: false },
  preVote: { lastIndex: 0, lastTerm: 0, transfer: false },
  voteResponse: { reject: false },
  preVoteResponse: { reject: false },
  snapshot: {},
  heartbeat: { commit: 0, context: '' },
  heartbeatResponse: { context: '' },
  timeoutNow: {},
  readIndex: { context: '', term: 0 },
  readIndexResponse: { index: 0, context: '' },
};

/** A message with defaults filled in: from n2 to n1 at term 1 unless said otherwise. */
export function msg<T extends Message['type']>(type: T, fields: Fields<T> & { from?: string; to?: string } = {}): Message {
  const { from, to, ...rest } = fields as Fields<T> & { from?: string; to?: string };
  return {
    term: 1,
    ...(DEFAULTS[type] as object),
    ...rest,
    type,
    from: nodeId(from ?? 'n2'),
    to: nodeId(to ?? 'n1'),
  } as unknown as Message;
}

/** Steps one message into a node and returns everything it sends in response. */
export function deliver(node: TestNode, m: Message): Array<Loose<Message>> {
  node.core.step(m);
  return node.drain();
}

export function ofType<T extends Message['type']>(messages: ReadonlyArray<Loose<Message>>, type: T): Array<Loose<MessageOf<T>>> {
  return messages.filter((m) => m.type === type) as Array<Loose<MessageOf<T>>>;
}

/** Makes `node` leader by campaigning and granting it every vote; returns what it sent as leader. */
export function electLeader(node: TestNode): Array<Loose<Message>> {
  node.core.campaign();
  const out = node.drain();
  const term = node.status.term;
  const voters = node.status.confState.voters.filter((v) => v !== node.id);
  const pre = ofType(out, 'preVote').length > 0;
  let sent: Array<Loose<Message>> = [];
  if (pre) {
    for (const v of voters) sent.push(...deliver(node, msg('preVoteResponse', { from: v, to: node.id, term: term + 1 })));
  }
  const t = node.status.term;
  for (const v of voters) {
    if (node.status.role === 'leader') break;
    sent = deliver(node, msg('voteResponse', { from: v, to: node.id, term: t }));
  }
  if (node.status.role !== 'leader') throw new Error(`${node.id} did not become leader`);
  return sent;
}

/** Delivers messages between nodes until nothing is in flight, except what the filters drop. */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cuts = new Set<string>();
  private dropFilter: ((m: Message) => boolean) | null = null;
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = [];

  constructor(nodes: TestNode[]) {
    for (const n of nodes) this.nodes.set(n.id, n);
  }

  static of(count: number, config: Partial<RaftConfig> = {}): Network {
    const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    return new Network(names.map((n) => newNode(n, names, config)));
  }

  /**
   * A cluster bootstrapped the way the driver does it, with the membership in
   * committed log entries, so that members that join later learn it too.
   */
  static bootstrapped(count: number, config: Partial<RaftConfig> = {}): Network {
    const names = ids(...Array.from({ length: count }, (_, i) => `n${i + 1}`));
    const log = bootstrapEntries(names.map((id) => ({ id, context: '' })));
    return new Network(
      names.map((id) => {
        const storage = new MemoryStorage();
        storage.append(log);
        storage.setHardState({ term: 1, vote: null, commit: log.length });
        const node = new TestNode(id, storage, config);
        node.drain();
        return node;
      }),
    );
  }

  node(id: string): TestNode {
    const n = this.nodes.get(nodeId(id));
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  cut(a: string, b: string): void {
    this.cuts.add(`${a}>${b}`);
    this.cuts.add(`${b}>${a}`);
  }

  isolate(a: string): void {
    for (const b of this.nodes.keys()) if (b !== a) this.cut(a, b);
  }

  heal(): void {
    this.cuts.clear();
    this.dropFilter = null;
  }

  drop(filter: (m: Message) => boolean): void {
    this.dropFilter = filter;
  }

  /** Delivers `initial` and everything it causes. */
  send(initial: Message[] = []): void {
    const queue = [...initial];
    for (const n of this.nodes.values()) queue.push(...n.drain());
    while (queue.length > 0) {
      const m = queue.shift()!;
      if (this.cuts.has(`${m.from}>${m.to}`) || (this.dropFilter?.(m) ?? false)) continue;
      const target = this.nodes.get(m.to);
      if (target === undefined) continue;
      this.delivered.push(m);
      target.core.step(m);
      queue.push(...target.drain());
    }
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).core.tick();
      this.send();
    }
  }

  /** One heartbeat round from leader `id`: followers learn the commit index from it, never from a message of its own. */
  heartbeat(id: string): void {
    const node = this.node(id);
    for (let i = 0; i < (node.config.heartbeatTicks ?? HEARTBEAT_TICKS); i++) node.core.tick();
    this.send();
  }

  campaign(id: string): void {
    this.node(id).core.campaign();
    this.send();
  }

  leader(): TestNode | undefined {
    return [...this.nodes.values()].find((n) => n.status.role === 'leader');
  }

  propose(id: string, text: string): void {
    this.node(id).core.propose(new TextEncoder().encode(text));
    this.send();
  }
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
