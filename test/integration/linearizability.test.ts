import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsError, isDfsError, type DfsClient, type ErrorCode } from '../../client-lib/index.js';
import { isAlive } from '../../cli/process-launcher.js';
import { sleep } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import { ClientPool, callUnary } from '../../common/grpc-client-pool.js';
import { metadataChannelOptions } from '../../common/grpc-server.js';
import { masterServices } from '../../proto/load.js';
import type { MetadataClient } from '../../proto/generated/dfs/master/Metadata.js';
import { createHosts, type Hosts } from '../harness/netns.js';
import { RaftGroupProbe } from '../harness/raft-group-probe.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';
import { checkOperations, type CheckResult } from '../lincheck/checker.js';
import { kvModel, type KvInput, type KvOperation, type KvOutput } from '../lincheck/kv-model.js';
import { Prng } from '../sim/prng.js';

const MASTERS = 3;
const CHUNKSERVERS = 3;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const CLIENTS = 5;
const MODES = 4096;
/** Short, so that the last read a pinned reader sends to a paused leader is still awaited when it wakes. */
const PINNED_READ_TIMEOUT_MS = 400;
/** More of them, more reads waiting for a paused leader when it wakes. */
const PINNED_READERS_PER_MASTER = 2;
/** Failures after which the operation may or may not have been applied: recorded as never returning. */
const UNKNOWN_OUTCOME: ReadonlySet<ErrorCode> = new Set(['TIMEOUT', 'UNAVAILABLE', 'NOT_LEADER', 'OVERLOADED']);

// ----------------------------------------------------------------- workload

/** A register per key: what the workload runs against (the master's metadata, or a model of it). */
interface Registers {
  /** Resolves with the value the reply shows, if the reply carries one. */
  put(key: string, value: number): Promise<number | undefined>;
  get(key: string): Promise<number>;
  /** Attempts the client library retried so far (it runs one operation at a time). */
  retries?(): number;
}

interface WorkloadClient {
  name: string;
  registers: Registers;
  /** Share of operations that are puts; 0 for a reader. */
  putShare: number;
  /** Pause after an operation that did not complete, for a client whose master often refuses (0: none). */
  paceAfterFailureMs: number;
}

/**
 * Clients that put and get in a loop, recording every operation in the
 * checker's format. Values come from one counter per key, so that a read
 * names the write it saw (until the counter wraps at 4096 modes).
 */
class Workload {
  readonly history: KvOperation[] = [];
  /** Reads whose outcome is unknown: no constraint, so they stay out of the history. */
  unknownReads = 0;
  unknownWrites = 0;
  /** Writes whose retried request was answered with the state at the retry (another client's value). */
  retriedWritesShowingOtherValues = 0;
  /** Failures that must not happen: the first stops the workload. */
  readonly definiteFailures: string[] = [];
  private readonly nextValue = new Map<string, number>(KEYS.map((k) => [k, 0]));
  private running = true;
  private loops: Promise<void>[] = [];
  /** Operations after which the clients stop by themselves. */
  private limit = Infinity;

  constructor(private readonly now: () => number) {}

  value(key: string): number {
    const v = this.nextValue.get(key)!;
    this.nextValue.set(key, v + 1);
    return v % MODES;
  }

  get completed(): number {
    return this.history.length;
  }

  start(clients: WorkloadClient[], rng: Prng, limit = Infinity): void {
    this.limit = limit;
    this.loops = clients.map((client) => this.loop(client, rng.fork()));
  }

  private async loop(client: WorkloadClient, rng: Prng): Promise<void> {
    while (this.running && this.definiteFailures.length === 0 && this.history.length < this.limit) {
      // A client that fails without I/O (closed, say) must not starve the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      const key = rng.pick(KEYS);
      const completed = rng.chance(client.putShare)
        ? await this.put(client.name, client.registers, key, this.value(key))
        : await this.get(client.name, client.registers, key);
      // Pacing, not synchronization: a follower refuses at once, and a reader pinned to it would spin.
      if (!completed && client.paceAfterFailureMs > 0) await sleep(client.paceAfterFailureMs);
    }
  }

  /** Records one put; false if it did not complete. */
  async put(client: string, registers: Registers, key: string, value: number): Promise<boolean> {
    const input: KvInput = { kind: 'put', key, value: String(value) };
    const retriesBefore = registers.retries?.() ?? 0;
    const call = this.now();
    try {
      const shown = await registers.put(key, value);
      const ret = this.now();
      this.history.push({ client, input, output: {}, call, return: ret });
      if (shown !== undefined && shown !== value) {
        if ((registers.retries?.() ?? 0) === retriesBefore) {
          this.definiteFailures.push(`${client}: put(${key}, ${value}) was answered on its first attempt with value ${shown}, not the state its own write made`);
          return true;
        }
        // The master answers a duplicate with the state when the duplicate is
        // applied (state-machine.ts reply()): a read at some instant of this
        // call, after the write. As a read anywhere in the call it is checked,
        // a little more loosely than that.
        this.retriedWritesShowingOtherValues++;
        this.history.push({ client: `${client} (reply)`, input: { kind: 'get', key }, output: { value: String(shown) }, call, return: ret });
      }
      return true;
    } catch (err) {
      if (!this.unknownOutcome(client, input, err)) return false;
      this.unknownWrites++;
      this.history.push({ client, input, output: undefined, call, return: Infinity });
      return false;
    }
  }

  /** Records one get; false if it did not complete. */
  async get(client: string, registers: Registers, key: string): Promise<boolean> {
    const input: KvInput = { kind: 'get', key };
    const call = this.now();
    try {
      const value = await registers.get(key);
      const output: KvOutput = { value: String(value) };
      this.history.push({ client, input, output, call, return: this.now() });
      return true;
    } catch (err) {
      if (this.unknownOutcome(client, input, err)) this.unknownReads++;
      return false;
    }
  }

  private unknownOutcome(client: string, input: KvInput, err: unknown): boolean {
    if (isDfsError(err) && UNKNOWN_OUTCOME.has(err.code)) return true;
    const what = input.kind === 'put' ? `put(${input.key}, ${input.value})` : `get(${input.key})`;
    const code = isDfsError(err) ? err.code : 'not a DfsError';
    this.definiteFailures.push(`${client}: ${what} failed with ${code}: ${(err as Error).message}`);
    return false;
  }

  /** Waits until the clients have stopped by themselves (at the limit, or at a definite failure). */
  async finished(): Promise<void> {
    await Promise.all(this.loops);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.finished();
  }
}

/** The master's metadata as registers: key k is the mode of /kv/k. */
function metadataRegisters(client: DfsClient, retries?: RetryCounter): Registers {
  return {
    async put(key, value) {
      return (await client.setAttributes(`/kv/${key}`, { mode: value })).mode;
    },
    async get(key) {
      return (await client.stat(`/kv/${key}`)).mode;
    },
    ...(retries ? { retries: () => retries.count } : {}),
  };
}

/**
 * Stat through one master only, one attempt per read with a short deadline:
 * what a client still connected to a deposed leader sees. A read it sends
 * to a paused leader waits in the socket and is answered when the leader
 * wakes, after the new leader has taken writes: only the read barrier keeps
 * that answer from being stale.
 */
function pinnedReader(pool: ClientPool<MetadataClient>, address: string): Registers {
  return {
    put() {
      throw new Error('a pinned reader does not write');
    },
    async get(key) {
      const { attr } = await callUnary(pool.get(address), 'Stat', { path: `/kv/${key}` }, PINNED_READ_TIMEOUT_MS);
      if (attr === null) throw new Error(`Stat(/kv/${key}) at ${address} answered without attributes`);
      return attr.mode;
    },
  };
}

/**
 * A client's logger that counts the retries of master calls: the library
 * logs each one at debug level with the failure's code.
 */
class RetryCounter implements Logger {
  count = 0;

  debug(obj: object | string): void {
    if (typeof obj === 'object' && 'code' in obj) this.count++;
  }

  info(): void {}

  warn(): void {}

  error(): void {}

  child(): Logger {
    return this;
  }
}

// ----------------------------------------------------------------- checking

interface Checked {
  result: CheckResult<KvInput, KvOutput>;
  ms: number;
}

function check(history: readonly KvOperation[]): Checked {
  const started = performance.now();
  const result = checkOperations(kvModel, history);
  return { result, ms: performance.now() - started };
}

/**
 * The history with one completed read changed to return a value that was
 * overwritten before the read began: put(q) returned before put(p) was
 * called, p returned before the read was called, and no other write stores
 * q's value. No linearization can explain that. Undefined if the history has
 * no such read.
 */
function withStaleRead(history: readonly KvOperation[]): { history: KvOperation[]; index: number; stale: string } | undefined {
  const puts = history.filter((op) => op.input.kind === 'put');
  const writers = new Map<string, number>();
  for (const op of puts) {
    const id = `${op.input.key}=${op.input.kind === 'put' ? op.input.value : ''}`;
    writers.set(id, (writers.get(id) ?? 0) + 1);
  }
  for (let i = history.length - 1; i >= 0; i--) {
    const read = history[i]!;
    if (read.input.kind !== 'get' || read.output === undefined) continue;
    const key = read.input.key;
    // The latest candidates first: the stale value is then a recent one, as a lagging replica would return.
    const before = puts.filter((p) => p.input.key === key && p.output !== undefined && p.return < read.call).reverse();
    for (const p of before) {
      for (const q of before) {
        if (q.return >= p.call || q.input.kind !== 'put' || p.input.kind !== 'put') continue;
        const stale = q.input.value;
        if (stale === p.input.value || stale === read.output.value || writers.get(`${key}=${stale}`) !== 1) continue;
        const mutated = history.slice();
        mutated[i] = { ...read, output: { value: stale } };
        return { history: mutated, index: i, stale };
      }
    }
  }
  return undefined;
}

/** The checker's explanation cut to what a reader needs: the end of the linearized prefix, and what was stuck. */
function trimExplanation(explanation: string, keep = 15): string {
  const lines = explanation.split('\n');
  const stuckAt = lines.indexOf('could not be placed after it:');
  const prefix = lines.slice(1, stuckAt);
  const shown = prefix.length > keep ? [`  ... ${prefix.length - keep} earlier operations`, ...prefix.slice(-keep)] : prefix;
  return [lines[0]!, ...shown, ...lines.slice(stuckAt)].join('\n');
}

// ----------------------------------------------------------------- faults

type FaultKind = 'kill-leader' | 'partition-leader' | 'partition-follower' | 'pause-leader';

interface Fault {
  kind: FaultKind;
  /** How long the fault stays in place after it has taken effect. */
  holdMs: number;
  /** Quiet time after recovery, before the next fault. */
  gapMs: number;
  /** Which follower, for partition-follower (index into the followers). */
  follower: number;
}

/** The fault schedule of a seed: every kind (pauses twice) in a seeded order, then seeded extras. */
function faultSchedule(seed: number, total = 7): Fault[] {
  const rng = new Prng(seed);
  // Two long pauses: a woken deposed leader is where a missing read barrier shows.
  const kinds: FaultKind[] = ['kill-leader', 'partition-leader', 'partition-follower', 'pause-leader', 'pause-leader'];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const required = kinds.length;
  while (kinds.length < total) kinds.push(rng.pick(['kill-leader', 'partition-leader', 'pause-leader', 'kill-leader', 'partition-leader', 'partition-follower'] as const));
  return kinds.map((kind, i) => ({
    kind,
    // A short pause wakes a leader that never lost its term. A long one wakes
    // a deposed leader after the others took writes, with reads queued for it:
    // the required pauses are long ones.
    holdMs: kind === 'pause-leader' ? (i >= required && rng.chance(0.5) ? rng.int(100, 400) : rng.int(800, 2_000)) : rng.int(300, 2_000),
    gapMs: rng.int(200, 1_000),
    follower: rng.int(0, 1),
  }));
}

/** The Raft group's probe, with the settling this test waits for after each fault. */
class GroupProbe extends RaftGroupProbe {
  constructor(cluster: TestCluster) {
    super(cluster, Array.from({ length: MASTERS }, (_, i) => `master-${i}`), 500);
  }

  /** Every master up, following one leader, and caught up with its log. */
  async settled(): Promise<string | undefined> {
    const leader = await this.wholeGroupLeader();
    if (leader === undefined) return undefined;
    const commit = Number(leader.commit);
    const voters = leader.members.filter((m) => m.role === 'voter');
    return voters.length === MASTERS && voters.every((m) => Number(m.match) >= commit - 100) ? leader.id : undefined;
  }
}

interface FaultContext {
  cluster: TestCluster;
  hosts: Hosts;
  group: GroupProbe;
  /** Pids under SIGSTOP, for cleanup to resume. */
  paused: Set<number>;
  workload: Workload;
  note(what: string): void;
}

/**
 * Runs the schedule, one fault at a time on a settled group, and returns how
 * many faults were injected. Whatever happens, it returns (or throws) with
 * every host connected and every process resumed; killed ones are restarted
 * by the caller.
 */
async function injectFaults(schedule: readonly Fault[], ctx: FaultContext): Promise<number> {
  const { cluster, hosts, group, paused, workload, note } = ctx;
  const hostOf = (name: string) => Number(name.slice('master-'.length));
  let injected = 0;
  try {
    for (const fault of schedule) {
      if (workload.definiteFailures.length > 0) break;
      const leader = await waitFor('a settled group', () => group.settled(), 30_000);
      const leaderHost = hostOf(leader);
      const others = Array.from({ length: MASTERS }, (_, i) => i).filter((h) => h !== leaderHost);
      const newLeader = () =>
        waitFor('a new leader', async () => {
          const l = await group.leader();
          return l !== undefined && l !== leader ? l : undefined;
        }, 20_000);
      switch (fault.kind) {
        case 'kill-leader': {
          note(`SIGKILL ${leader}`);
          await cluster.killAndWait(leader);
          note(`${await newLeader()} leads`);
          await sleep(fault.holdMs);
          note(`restart ${leader}`);
          await cluster.restart();
          break;
        }
        case 'partition-leader': {
          // It still reaches clients and chunkservers: only its peers are cut off.
          note(`partition ${leader} from the other masters`);
          await hosts.partition(leaderHost, others);
          note(`${await newLeader()} leads`);
          await sleep(fault.holdMs);
          note(`heal ${leader}`);
          await hosts.heal(leaderHost);
          break;
        }
        case 'partition-follower': {
          const follower = others[fault.follower % others.length]!;
          note(`partition master-${follower} from the other masters`);
          await hosts.partition(follower, [leaderHost, ...others.filter((o) => o !== follower)]);
          await sleep(fault.holdMs);
          note(`heal master-${follower}`);
          await hosts.heal(follower);
          break;
        }
        case 'pause-leader': {
          const { pid } = cluster.process(leader);
          note(`SIGSTOP ${leader}`);
          paused.add(pid);
          process.kill(pid, 'SIGSTOP');
          if (fault.holdMs >= 500) note(`${await newLeader()} leads`);
          await sleep(fault.holdMs);
          note(`SIGCONT ${leader}`);
          process.kill(pid, 'SIGCONT');
          paused.delete(pid);
          break;
        }
      }
      injected++;
      await waitFor('the group to settle after a fault', () => group.settled(), 30_000);
      await sleep(fault.gapMs);
    }
  } finally {
    for (const pid of paused) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    paused.clear();
    await hosts.healAll();
  }
  return injected;
}

// ----------------------------------------------------------------- the tests

/*
 * Three masters on hosts 0-2 and three chunkservers on hosts 3-5, each host a
 * network namespace. Five clients put and get modes of /kv/k0..k4 through
 * the client library (which follows the leader and retries), and two readers
 * per master ask that master only. Meanwhile the seeded schedule kills,
 * pauses and partitions leaders and partitions followers; at the end the
 * whole history must be linearizable, per key.
 */
describe('linearizability of the masters\' metadata while leaders are killed, paused and partitioned (6 hosts)', function () {
  this.timeout(180_000);
  const seed = process.env.LINCHECK_SEED !== undefined ? Number(process.env.LINCHECK_SEED) : randomInt(1, 2 ** 31);
  let hosts: Hosts | undefined;
  let cluster: TestCluster | undefined;
  let probe: GroupProbe | undefined;
  let running: Workload | undefined;
  const paused = new Set<number>();
  let pinned: ClientPool<MetadataClient> | undefined;

  before(async function () {
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`LINCHECK_SEED must be a non-negative integer, not ${process.env.LINCHECK_SEED}`);
    console.log(`      lincheck seed ${seed} (replay the schedule with LINCHECK_SEED=${seed})`);
    const started = performance.now();
    hosts = await createHosts(MASTERS + CHUNKSERVERS);
    await hosts.checkReachable();
    const net = hosts;
    cluster = await TestCluster.start({
      masters: MASTERS,
      chunkservers: CHUNKSERVERS,
      masterArgs: [...FAST_MASTER_ARGS, '--raft-tick-ms', '50', '--raft-election-ticks', '10', '--log-level', 'info'],
      chunkserverArgs: ['--scrub-interval-ms', '0', '--log-level', 'info'],
      placement: (role, i) => {
        const host = net.host(role === 'master' ? i : MASTERS + i);
        return { host: host.address, wrapper: host.wrapper };
      },
    });
    probe = new GroupProbe(cluster);
    pinned = new ClientPool<MetadataClient>(masterServices().dfs.master.Metadata, metadataChannelOptions(), cluster.channelCredentials('admin'));
    console.log(`      6 hosts and the cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    // Its clients are about to close: after a test timeout it may still be running.
    await running?.stop();
    // A paused process would sit out its SIGTERM grace period.
    for (const pid of paused) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    paused.clear();
    probe?.close();
    pinned?.close();
    try {
      await cluster?.stop();
    } finally {
      await hosts?.destroy();
    }
  });

  it('every put (SetAttr mode) and get (Stat) of 5 clients on 5 keys is linearizable', async () => {
    const c = cluster!;
    const t0 = performance.now();
    const now = () => Math.round((performance.now() - t0) * 1000);
    const workload = new Workload(now);
    running = workload;
    const faultLog: string[] = [];
    const note = (what: string) => faultLog.push(`${(now() / 1e6).toFixed(2)}s ${what}`);

    const admin = await c.client({ retry: { deadlineMs: 20_000 } });
    await admin.mkdir('/kv');
    for (const key of KEYS) {
      // The initial mode is the register's first write.
      const create: Registers = { put: async (k, v) => (await admin.create(`/kv/${k}`, { mode: v, exclusive: true })).mode, get: async () => 0 };
      await workload.put('setup', create, key, workload.value(key));
    }
    expect(workload.definiteFailures).to.deep.equal([]);
    const counters = Array.from({ length: CLIENTS }, () => new RetryCounter());
    const clients = await Promise.all(
      counters.map((logger, i) =>
        c.client({ clientId: `lincheck-${process.pid}-c${i}`, callTimeoutMs: 1_000, retry: { initialMs: 20, maxMs: 300, deadlineMs: 5_000 }, logger }),
      ),
    );
    const schedule = faultSchedule(seed);
    console.log(`      faults: ${schedule.map((f) => `${f.kind}(${f.holdMs}ms)`).join(', ')}`);
    workload.start(
      [
        ...clients.map((client, i) => ({ name: `c${i}`, registers: metadataRegisters(client, counters[i]), putShare: 0.5, paceAfterFailureMs: 0 })),
        ...Array.from({ length: MASTERS * PINNED_READERS_PER_MASTER }, (_, i) => ({
          name: `r${i % MASTERS}.${Math.floor(i / MASTERS)}`,
          registers: pinnedReader(pinned!, c.process(`master-${i % MASTERS}`).address),
          putShare: 0,
          paceAfterFailureMs: 50,
        })),
      ],
      new Prng((seed ^ 0x9e3779b9) >>> 0),
    );
    let injected = 0;
    try {
      await waitFor('the workload running', () => (workload.completed >= KEYS.length + 20 ? true : undefined));
      injected = await injectFaults(schedule, { cluster: c, hosts: hosts!, group: probe!, paused, workload, note });
      await c.restart();
      await waitFor('the group to settle at the end', () => probe!.settled(), 30_000);
      note('all healed');
      const healedAt = workload.completed;
      await waitFor('operations on the healed cluster', () => (workload.completed >= healedAt + 50 || workload.definiteFailures.length > 0 ? true : undefined), 20_000);
    } finally {
      // Clients left running after a failure would load the machine under the tests that follow.
      await workload.stop();
    }
    // A last read of every key, after everything settled.
    for (const key of KEYS) await workload.get('final', metadataRegisters(admin), key);
    const history = workload.history;
    const puts = history.filter((op) => op.input.kind === 'put' && op.output !== undefined).length;
    const gets = history.filter((op) => op.input.kind === 'get' && !op.client.endsWith('(reply)')).length;
    const checked = check(history);
    const summary = {
      seed,
      completedOps: puts + gets,
      puts,
      gets,
      unknownPuts: workload.unknownWrites,
      unknownGets: workload.unknownReads,
      retriedPutsShowingOtherValues: workload.retriedWritesShowingOtherValues,
      clientRetries: counters.reduce((sum, r) => sum + r.count, 0),
      opsOver1s: history.filter((op) => op.return !== Infinity && op.return - op.call > 1e6).length,
      faults: injected,
      runS: Number((now() / 1e6).toFixed(1)),
      checkerMs: Math.round(checked.ms),
      outcome: checked.result.outcome,
    };
    console.log(`      lincheck: ${JSON.stringify(summary)}`);
    console.log(`      fault log:\n${faultLog.map((l) => `        ${l}`).join('\n')}`);

    expect(workload.definiteFailures, `operations that failed for certain (seed ${seed})`).to.deep.equal([]);
    if (checked.result.outcome !== 'ok') {
      const file = join(tmpdir(), `dfs-lincheck-${process.pid}-seed${seed}.json`);
      writeFileSync(file, JSON.stringify({ seed, faultLog, history }, (_, v: unknown) => (v === Infinity ? 'Infinity' : v)));
      const detail =
        checked.result.outcome === 'illegal'
          ? `key /kv/${checked.result.partition[0]!.input.key}\n${trimExplanation(checked.result.explanation)}`
          : checked.result.reason;
      expect.fail(
        `the history is ${checked.result.outcome === 'illegal' ? 'NOT linearizable' : 'not checkable'} (seed ${seed}, replay with LINCHECK_SEED=${seed}); times in µs since the start\n` +
          `${detail}\nfaults:\n${faultLog.join('\n')}\nwhole history: ${file}`,
      );
    }
    expect(injected, 'faults injected').to.equal(schedule.length);
    expect(puts, 'acknowledged puts').to.be.at.least(100);
    expect(gets, 'completed gets').to.be.at.least(100);

    // The same history with one read made stale must be rejected: the check above has teeth.
    const stale = withStaleRead(history);
    expect(stale, 'a read that can be made stale').to.not.equal(undefined);
    expect(check(stale!.history).result.outcome, `history with op ${stale!.index} reading ${stale!.stale}`).to.equal('illegal');
  });
});

describe('the linearizability check on histories recorded like the real one', () => {
  /**
   * The workload against an in-memory register that is linearizable by
   * construction (each operation takes effect between its call and its
   * return on a logical clock), with some writes failing as TIMEOUT before
   * or after they take effect, as a partitioned leader's writes do.
   */
  async function recorded(seed: number): Promise<KvOperation[]> {
    const rng = new Prng(seed);
    let clock = 0;
    const workload = new Workload(() => ++clock);
    const state = new Map<string, number>();
    const pause = async () => {
      for (let i = rng.int(0, 3); i > 0; i--) await new Promise((r) => setImmediate(r));
    };
    const registers: Registers = {
      async put(key, value) {
        await pause();
        const fate = rng.next();
        if (fate < 0.01) throw new DfsError('TIMEOUT', 'lost before it was applied');
        state.set(key, value);
        await pause();
        if (fate < 0.02) throw new DfsError('TIMEOUT', 'lost after it was applied');
        return value;
      },
      async get(key) {
        await pause();
        const value = state.get(key)!;
        await pause();
        return value;
      },
    };
    const reliable: Registers = { ...registers, put: async (key, value) => (state.set(key, value), value) };
    for (const key of KEYS) await workload.put('setup', reliable, key, workload.value(key));
    const clients = Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}`, registers, putShare: 0.5, paceAfterFailureMs: 0 }));
    workload.start(clients, rng.fork(), 1_000);
    await workload.finished();
    expect(workload.definiteFailures).to.deep.equal([]);
    return workload.history;
  }

  it('accepts the recorded histories, and rejects each once one read returns an overwritten value', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const history = await recorded(seed);
      expect(history.some((op) => op.output === undefined), 'some writes of unknown outcome').to.equal(true);
      expect(check(history).result.outcome, `seed ${seed}`).to.equal('ok');
      const stale = withStaleRead(history);
      expect(stale, `seed ${seed}: a read that can be made stale`).to.not.equal(undefined);
      const { result } = check(stale!.history);
      expect(result.outcome, `seed ${seed}`).to.equal('illegal');
      if (result.outcome === 'illegal') {
        const read = stale!.history[stale!.index]!;
        expect(result.partition.every((op) => op.input.key === read.input.key)).to.equal(true);
        expect(trimExplanation(result.explanation)).to.contain(`get(${read.input.key})`);
      }
    }
  });
});
