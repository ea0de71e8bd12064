import * as grpc from '@grpc/grpc-js';
import { ACCESS_TOKEN_KEY } from '../../security/transport-security.js';
import type { TestIdentity } from '../harness/test-cluster.js';
import { Prng } from '../sim/prng.js';
import { caseSeed, makeCase, type MessageLimits } from './fuzz-case.js';
import { forgedAccessToken, identityFor, identityKey } from './fuzz-identities.js';
import type { FuzzWorld } from './fuzz-world.js';
import { outcomeLabel, outcomeProblem } from './outcome-policy.js';
import type { FuzzMethod, ServerKind } from './schema.js';
import { summarizeFrames } from './frame-summary.js';
import { StatusTally } from './summary-table.js';
import { sendCall, wireClient, type CallOutcome } from './wire-call.js';

/** A server the storm sends to. */
export interface FuzzTarget {
  label: string;
  address: string;
  server: ServerKind;
}

export interface StormOptions {
  seed: number;
  methods: FuzzMethod[];
  callsPerMethod: (method: FuzzMethod) => number;
  /** Calls in flight at once. */
  concurrency: number;
  deadlineMs: number;
  world: FuzzWorld;
  limits: MessageLimits;
  targets: FuzzTarget[];
  credentials: (who: TestIdentity) => grpc.ChannelCredentials;
  /** Run only this case (reproducing a failure): method full name and index. */
  only?: { method: string; index: number };
}

export interface StormFailure {
  method: string;
  index: number;
  target: string;
  identity: string;
  kind: string;
  problem: string;
  /** What was sent, decoded and shortened. */
  sent: string;
  /** The environment that reruns this one case. */
  reproduce: string;
}

export interface StormResult {
  tally: StatusTally;
  failures: StormFailure[];
  /** Frames the harm guard replaced (see harm-guard.ts). */
  guardedFrames: number;
  /** Calls resent once on a fresh connection because their connection was dropped under them. */
  resentAfterDrop: number;
  /** Calls per target label. */
  perTarget: Map<string, number>;
}

interface Job {
  method: FuzzMethod;
  index: number;
}

/**
 * Sends every case with at most `concurrency` in flight. Cases are made
 * when they are sent (an oversize one holds megabytes), each from its own
 * seed, so the order calls finish in changes nothing but timing.
 */
export async function runStorm(o: StormOptions): Promise<StormResult> {
  const jobs: Job[] = [];
  for (const method of o.methods) {
    for (let index = 0; index < o.callsPerMethod(method); index++) {
      if (o.only !== undefined && (o.only.method !== method.fullName || o.only.index !== index)) continue;
      jobs.push({ method, index });
    }
  }
  // Interleave methods and services, so that every server sees mixed traffic at once.
  const order = new Prng(o.seed);
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = order.int(0, i);
    [jobs[i], jobs[j]] = [jobs[j]!, jobs[i]!];
  }

  const clients = new Map<string, grpc.Client>();
  const clientFor = (address: string, who: TestIdentity): grpc.Client => {
    const key = `${address} ${identityKey(who)}`;
    let c = clients.get(key);
    if (c === undefined) clients.set(key, (c = wireClient(address, o.credentials(who))));
    return c;
  };
  const result: StormResult = { tally: new StatusTally(), failures: [], guardedFrames: 0, resentAfterDrop: 0, perTarget: new Map() };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const { method, index } = jobs[next++]!;
      const fuzzCase = makeCase(o.seed, method, index, o.world, o.limits);
      const target = targetOf(o.targets, method, index);
      const callRng = new Prng(caseSeed(o.seed, method, index) ^ 0x5bd1e995);
      const who = identityFor(method.service, callRng);
      const metadata = new grpc.Metadata();
      const token = method.service === 'dfs.chunk.ChunkData' && typeof who !== 'string' ? forgedAccessToken(callRng) : undefined;
      if (token !== undefined) metadata.set(ACCESS_TOKEN_KEY, token);
      // An oversize message goes on a connection of its own, as a misbehaving peer's would: the
      // server may protect itself by refusing that connection's streams (HTTP/2 session memory),
      // which must not be charged to the calls that happen to share it.
      const own = fuzzCase.kind === 'oversize' ? wireClient(target.address, o.credentials(who)) : undefined;
      let outcome = await sendCall({ client: own ?? clientFor(target.address, who), deadlineMs: o.deadlineMs }, method.path, method.shape, fuzzCase.frames, fuzzCase.ending, metadata);
      own?.close();
      if (droppedByTransport(outcome)) {
        // A connection the server closed (GOAWAY after a keepalive ping this busy client answered
        // late, on a loaded machine) fails every call on it, whatever each sent. The same bytes go
        // again on a fresh connection: an input that breaks a server breaks it again.
        const fresh = wireClient(target.address, o.credentials(who));
        outcome = await sendCall({ client: fresh, deadlineMs: o.deadlineMs }, method.path, method.shape, fuzzCase.frames, fuzzCase.ending, metadata);
        fresh.close();
        result.resentAfterDrop++;
      }
      result.tally.add(method.fullName, outcomeLabel(outcome));
      result.guardedFrames += fuzzCase.guarded;
      result.perTarget.set(target.label, (result.perTarget.get(target.label) ?? 0) + 1);
      const problem = outcomeProblem(outcome);
      if (problem !== undefined) {
        result.failures.push({
          method: method.fullName,
          index,
          target: target.label,
          identity: identityKey(who),
          kind: `${fuzzCase.kind}, ${fuzzCase.frames.length} frame(s) of ${fuzzCase.frames.map((f) => f.length).join('/')} bytes, ${fuzzCase.ending.kind}`,
          problem,
          sent: summarizeFrames(method, fuzzCase.frames),
          reproduce: `FUZZ_SEED=${o.seed} FUZZ_ONLY='${method.fullName}#${index}'`,
        });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  } finally {
    for (const c of clients.values()) c.close();
  }
  return result;
}

/**
 * Chunkserver calls go round the chunkservers. Master calls go two in three
 * to the leader, one in three to a follower: a follower answers most calls
 * NOT_LEADER before looking at them, so the leader is where validation runs.
 */
function targetOf(targets: FuzzTarget[], method: FuzzMethod, index: number): FuzzTarget {
  const of = targets.filter((t) => t.server === method.server);
  if (method.server === 'chunkserver' || of.length < 2) return of[index % of.length]!;
  return index % 3 === 2 ? of[1]! : of[0]!;
}

/** UNAVAILABLE that no handler sent: the connection was refused or closed under the call. */
function droppedByTransport(o: CallOutcome): boolean {
  return o.code === grpc.status.UNAVAILABLE && o.dfsCode === undefined;
}
