import { performance } from 'node:perf_hooks';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ServerId } from '../../../common/ids.js';
import { DistributionPlanner, type DistributionMember, type PlannedTask } from '../../../master/distribution-planner.js';
import { EventQueue } from '../event-queue.js';
import { Prng } from '../prng.js';
import { Agents, type SimTask } from './agents.js';
import { FluidNetwork } from './fluid-network.js';
import { PlannerMeter } from './sim-master.js';

export interface DistributionSimOptions {
  /** Members at the start (the origins come on top). */
  nodes: number;
  fileBytes: number;
  chunkSizeBytes: number;
  /** Every node's uplink and downlink, bytes/s. */
  rateBytesPerS: number;
  seed: number;
  /** Fraction of the members that crash, at uniform times within the first F/B. */
  failures: number;
  /** New empty members that join, at uniform times within the first F/B. */
  joins: number;
  fanout: number;
  fallbacks: number;
  /** Fetches an agent runs at once (D). */
  downloadsMax: number;
  /** Nodes holding the whole file at the start (the durable replicas), outside the members. */
  origins: number;
  /** One way, per message and per stream set-up. */
  latencyS: number;
  frameBytes: number;
  stepS: number;
  heartbeatIntervalS: number;
  livenessTimeoutS: number;
  /** Distribute calls the master has in flight (0: all at once); each takes a round trip plus `distributeCallS`. */
  distributeInFlight: number;
  distributeCallS: number;
  followStartWaitS: number;
  stallS: number;
  /** See AgentsOptions.awaitTaskS. */
  awaitTaskS: number;
  masterRoundS: number;
  rackSize: number;
  racksPerZone: number;
  /** Give up at this many times F/B. */
  timeLimitRatio: number;
}

export const SIM_DEFAULTS: Omit<DistributionSimOptions, 'nodes'> = {
  fileBytes: 10 * 1024 ** 3,
  chunkSizeBytes: 64 * 1024 ** 2,
  rateBytesPerS: 1e9 / 8,
  seed: 1,
  failures: 0,
  joins: 0,
  fanout: 2,
  fallbacks: 2,
  downloadsMax: 2,
  origins: 1,
  latencyS: 0.0005,
  frameBytes: 1024 ** 2,
  stepS: 0.01,
  heartbeatIntervalS: 2,
  livenessTimeoutS: 10,
  distributeInFlight: 0,
  distributeCallS: 0.001,
  followStartWaitS: 10,
  stallS: 30,
  awaitTaskS: 0,
  masterRoundS: 1,
  rackSize: 40,
  racksPerZone: 10,
  timeLimitRatio: 8,
};

export interface DistributionSimResult {
  nodes: number;
  chunks: number;
  lowerBoundS: number;
  /** When the last (and the median) member present from the start held every chunk. */
  lastS: number;
  medianS: number;
  /** Worst time from joining to holding every chunk, over members that joined. */
  joinLastS: number;
  originBytes: number;
  sameRackBytesRatio: number;
  sameZoneBytesRatio: number;
  /** Messages the master received (heartbeats, registrations) and sent (Distribute), until the last member finished. */
  heartbeats: number;
  distributeCalls: number;
  tasksSent: number;
  registrations: number;
  /** Planner cost per master round (us), and per event-driven call. */
  roundUs: number[];
  /** The same without the completions recorded (held): what planning itself cost per round. */
  roundPlanningUs: number[];
  roundEvents: number[];
  eventUsMean: number;
  eventUsMax: number;
  eventWorkMean: number;
  eventWorkMax: number;
  setupMs: number;
  failures: number;
  joins: number;
  /** Members alive at the end that lack some chunk (0 unless the time limit hit). */
  incomplete: number;
  /** After the master caught up: the planner counts every live member as holding every chunk, and nothing outstanding. */
  plannerAgrees: boolean;
  simulatedS: number;
  steps: number;
  wallS: number;
}

const VERSION = chunkVersion(1);
const handleOf = (chunk: number): ChunkHandle => chunkHandle(chunk + 1);

/**
 * The master's real planner driven by a discrete-event model of the fleet:
 * a fluid network (fluid-network.ts), every node's agent (agents.ts),
 * heartbeats every interval carrying completions and failures, a master
 * that feeds the planner as heartbeats arrive and sends takeChanges() once
 * per round, crashes (streams break at once; the master forgets the node
 * after its liveness timeout) and joins. One seed, one run.
 */
export function runDistributionSim(options: DistributionSimOptions): DistributionSimResult {
  const o = options;
  const began = performance.now();
  const prng = new Prng(o.seed);
  const plannerRandom = prng.fork();
  const random = prng.fork();
  const chunks = Math.ceil(o.fileBytes / o.chunkSizeBytes);
  const lowerBoundS = o.fileBytes / o.rateBytesPerS;
  const total = o.origins + o.nodes + o.joins;
  const firstMember = o.origins;
  const firstJoiner = o.origins + o.nodes;

  const ids: ServerId[] = [];
  const indexOf = new Map<ServerId, number>();
  const rackOf = new Int32Array(total);
  const zoneOf = new Int32Array(total);
  const racks = Math.max(1, Math.ceil(o.nodes / o.rackSize));
  for (let i = 0; i < total; i++) {
    const id = serverId(i < firstMember ? `o${i}` : i < firstJoiner ? `n${i - firstMember}` : `j${i - firstJoiner}`);
    ids.push(id);
    indexOf.set(id, i);
    const rack = i < firstMember ? racks + i : i < firstJoiner ? Math.floor((i - firstMember) / o.rackSize) : Math.floor(random.next() * racks);
    rackOf[i] = rack;
    zoneOf[i] = Math.floor(rack / o.racksPerZone);
  }
  const memberInfo = (i: number): DistributionMember => ({ id: ids[i]!, zone: `z${zoneOf[i]}`, rack: `r${rackOf[i]}` });

  const queue = new EventQueue();
  const agents = new Agents(
    { nodes: total, chunks, chunkSizeBytes: o.chunkSizeBytes, fileBytes: o.fileBytes, downloadsMax: o.downloadsMax, sourcesMax: 3 + o.fallbacks, latencyS: o.latencyS, followStartWaitS: o.followStartWaitS, stallS: o.stallS, awaitTaskS: o.awaitTaskS },
    queue,
  );
  const network = new FluidNetwork(total, o.rateBytesPerS, o.frameBytes, agents, rackOf, zoneOf);
  agents.attach(network);
  const planner = new DistributionPlanner({ fanout: o.fanout, fallbacks: o.fallbacks, random: () => plannerRandom.next() });
  const meter = new PlannerMeter(planner);

  const counts = { heartbeats: 0, distributeCalls: 0, tasksSent: 0, registrations: 0, failures: 0, joins: 0 };
  let frozen: typeof counts | undefined;
  let frozenRounds = 0;
  const lastHeard = new Float64Array(total);
  const removed = new Uint8Array(total);
  let remaining = o.nodes;
  let joinsLeft = o.joins;
  let pendingRemovals = 0;
  let finishedAt = NaN;
  let stop = false;
  let steps = 0;

  /** One Distribute call per node, in the planner's order; with a bound on calls in flight, the k-th lands k / bound call times later. */
  const send = (changes: { tasks: Map<ServerId, PlannedTask[]> }) => {
    let k = 0;
    for (const [id, tasks] of changes.tasks) {
      const node = indexOf.get(id)!;
      counts.distributeCalls++;
      counts.tasksSent += tasks.length;
      const simTasks: SimTask[] = tasks.map((t) => ({ chunk: t.order, sources: t.sources.map((s) => indexOf.get(s)!) }));
      const queued = o.distributeInFlight > 0 ? Math.floor(k++ / o.distributeInFlight) * (2 * o.latencyS + o.distributeCallS) : 0;
      queue.after(queued + o.latencyS, () => agents.deliver(node, simTasks));
    }
  };

  const heartbeat = (node: number) => {
    if (agents.alive[node] !== 1 || stop) return;
    const report = agents.report(node);
    counts.heartbeats++;
    queue.after(o.latencyS, () => {
      lastHeard[node] = queue.now;
      for (const chunk of report.completed) meter.event(() => planner.held(ids[node]!, handleOf(chunk), VERSION), true);
      for (const chunk of report.failed) meter.event(() => planner.failed(ids[node]!, handleOf(chunk), VERSION));
    });
    queue.after(o.heartbeatIntervalS, () => heartbeat(node));
  };

  const round = () => {
    if (stop) return;
    send(meter.round(() => planner.takeChanges()));
    queue.after(o.masterRoundS, round);
  };

  /** The master forgets a node once it has not heard from it for the liveness timeout. */
  const watchDeath = (node: number) => {
    const heard = lastHeard[node]!;
    queue.at(heard + o.livenessTimeoutS, () => {
      if (lastHeard[node] !== heard) return watchDeath(node);
      meter.event(() => planner.removeMember(ids[node]!));
      removed[node] = 1;
      pendingRemovals--;
    });
  };

  const crash = () => {
    const alive: number[] = [];
    for (let i = firstMember; i < total; i++) if (agents.alive[i] === 1) alive.push(i);
    if (alive.length <= 1) return;
    const node = random.pick(alive);
    const wasDone = agents.holdsEverything(node);
    agents.crash(node);
    counts.failures++;
    if (!wasDone) remaining--;
    pendingRemovals++;
    watchDeath(node);
  };

  const join = (node: number) => {
    agents.start(node);
    counts.joins++;
    joinsLeft--;
    remaining++;
    joinedAt[node] = queue.now;
    queue.after(o.latencyS, () => {
      counts.registrations++;
      lastHeard[node] = queue.now;
      meter.event(() => planner.addMember(memberInfo(node)));
    });
    queue.after(random.next() * o.heartbeatIntervalS, () => heartbeat(node));
  };
  const joinedAt = new Float64Array(total);

  agents.onNodeDone = () => {
    remaining--;
  };

  const tick = () => {
    steps++;
    for (const f of network.step(queue.now, o.stepS)) agents.completed(f);
    if (Number.isNaN(finishedAt) && remaining === 0 && joinsLeft === 0) {
      finishedAt = queue.now + o.stepS;
      frozen = { ...counts };
      frozenRounds = meter.rounds.length;
    }
    const caughtUp = queue.now >= finishedAt + o.heartbeatIntervalS + o.masterRoundS + 4 * o.latencyS && pendingRemovals === 0;
    if (caughtUp || queue.now >= o.timeLimitRatio * lowerBoundS) {
      stop = true;
      return;
    }
    queue.after(o.stepS, tick);
  };

  // The file is set to `all` with every member registered: one plan per chunk, one Distribute call per member.
  for (let i = 0; i < o.origins; i++) agents.seed(i);
  const setupBegan = performance.now();
  for (let i = firstMember; i < firstJoiner; i++) {
    agents.start(i);
    planner.addMember(memberInfo(i));
  }
  const originIds = ids.slice(0, o.origins);
  for (let c = 0; c < chunks; c++) planner.setChunk(handleOf(c), VERSION, c, originIds);
  const initial = planner.takeChanges();
  const setupMs = performance.now() - setupBegan;
  send(initial);

  for (let i = firstMember; i < firstJoiner; i++) queue.after(random.next() * o.heartbeatIntervalS, () => heartbeat(i));
  queue.after(o.masterRoundS, round);
  const failures = Math.round(o.failures * o.nodes);
  for (let k = 0; k < failures; k++) queue.at(random.next() * lowerBoundS, crash);
  for (let k = 0; k < o.joins; k++) queue.at(random.next() * lowerBoundS, () => join(firstJoiner + k));
  queue.after(0, tick);
  while (!stop && queue.step()) {
    // The tick sets `stop`.
  }

  const starters: number[] = [];
  const joinTimes: number[] = [];
  let incomplete = 0;
  let aliveMembers = 0;
  for (let i = firstMember; i < total; i++) {
    if (agents.alive[i] !== 1) continue;
    aliveMembers++;
    if (!agents.holdsEverything(i)) {
      incomplete++;
      continue;
    }
    if (i < firstJoiner) starters.push(agents.doneAt[i]!);
    else joinTimes.push(agents.doneAt[i]! - joinedAt[i]!);
  }
  starters.sort((a, b) => a - b);
  const stats = planner.stats();
  let plannerAgrees = stats.tasksOutstanding === 0 && stats.members === aliveMembers;
  for (let c = 0; c < chunks && plannerAgrees; c++) plannerAgrees = planner.holders(handleOf(c)).size === aliveMembers;

  let originBytes = 0;
  for (let i = 0; i < o.origins; i++) originBytes += network.sentBytes[i]!;
  let moved = 0;
  for (let i = 0; i < total; i++) moved += network.sentBytes[i]!;
  const rounds = meter.rounds.slice(0, frozenRounds || meter.rounds.length);
  const c = frozen ?? counts;
  return {
    nodes: o.nodes,
    chunks,
    lowerBoundS,
    lastS: starters[starters.length - 1] ?? NaN,
    medianS: starters[Math.floor(starters.length / 2)] ?? NaN,
    joinLastS: joinTimes.length > 0 ? Math.max(...joinTimes) : NaN,
    originBytes,
    sameRackBytesRatio: moved > 0 ? network.sameRackBytes / moved : 0,
    sameZoneBytesRatio: moved > 0 ? network.sameZoneBytes / moved : 0,
    heartbeats: c.heartbeats,
    distributeCalls: c.distributeCalls,
    tasksSent: c.tasksSent,
    registrations: c.registrations,
    roundUs: rounds.map((r) => r.us),
    roundPlanningUs: rounds.map((r) => r.us - r.completionUs),
    roundEvents: rounds.map((r) => r.events),
    eventUsMean: meter.events > 0 ? meter.eventUsTotal / meter.events : 0,
    eventUsMax: meter.eventUsMax,
    eventWorkMean: meter.events > 0 ? meter.eventWorkTotal / meter.events : 0,
    eventWorkMax: meter.eventWorkMax,
    setupMs,
    failures: counts.failures,
    joins: counts.joins,
    incomplete,
    plannerAgrees,
    simulatedS: Number.isNaN(finishedAt) ? queue.now : finishedAt,
    steps,
    wallS: (performance.now() - began) / 1000,
  };
}
