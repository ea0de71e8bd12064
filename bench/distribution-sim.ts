import { runDistributionSim, SIM_DEFAULTS, type DistributionSimResult } from '../test/sim/distribution/simulation.js';
import { median } from './process-cpu.js';

export interface DistributionSimBenchOptions {
  nodes: readonly number[];
  fileBytes: number;
  rateBitsPerS: number;
  seed: number;
  /** Fraction of the members that crash during the first F/B. */
  failures: number;
  joins: number;
  fanout: number;
  downloadsMax: number;
  origins: number;
  /** Distribute calls in flight (0: all at once), as the manager's LIMITS.distributeCallsInFlightMax bounds them. */
  distributeInFlight: number;
  /** How long a source without a task for the chunk keeps a follower waiting for one (the data service today: 0). */
  awaitTaskS: number;
  print: (name: string, value: number, unit: string) => void;
  log: (line: string) => void;
}

/**
 * `npm run bench -- distribution-sim`: the master's real distribution planner
 * driven by the discrete-event model in test/sim/distribution/, once per
 * fleet size; figures prefixed `sim_n<N>_`.
 */
export function runDistributionSimBench(o: DistributionSimBenchOptions): void {
  for (const nodes of o.nodes) {
    o.log(`simulating ${nodes} nodes`);
    const r = runDistributionSim({
      ...SIM_DEFAULTS,
      nodes,
      fileBytes: o.fileBytes,
      rateBytesPerS: o.rateBitsPerS / 8,
      seed: o.seed,
      failures: o.failures,
      joins: o.joins,
      fanout: o.fanout,
      downloadsMax: o.downloadsMax,
      origins: o.origins,
      distributeInFlight: o.distributeInFlight,
      awaitTaskS: o.awaitTaskS,
    });
    printFigures(`sim_n${nodes}_`, r, o.fileBytes, o.print);
  }
}

function printFigures(prefix: string, r: DistributionSimResult, fileBytes: number, print: DistributionSimBenchOptions['print']): void {
  const p = (name: string, value: number, unit: string) => print(`${prefix}${name}`, value, unit);
  p('completion_ratio', r.lastS / r.lowerBoundS, 'x');
  p('median_ratio', r.medianS / r.lowerBoundS, 'x');
  p('last_s', r.lastS, 's');
  p('lower_bound_s', r.lowerBoundS, 's');
  if (r.joins > 0) p('join_completion_ratio', r.joinLastS / r.lowerBoundS, 'x');
  p('origin_bytes_ratio', r.originBytes / fileBytes, 'x');
  p('same_rack_bytes_ratio', r.sameRackBytesRatio, 'x');
  const seconds = r.simulatedS;
  p('master_msgs_per_s', (r.heartbeats + r.registrations + r.distributeCalls) / seconds, 'msg/s');
  p('master_distribute_rpcs_per_s', r.distributeCalls / seconds, 'rpc/s');
  p('master_tasks_per_s', r.tasksSent / seconds, 'task/s');
  p('scheduler_us_per_round_median', median([...r.roundUs]), 'us');
  p('scheduler_us_per_round_max', Math.max(...r.roundUs), 'us');
  p('scheduler_planning_us_per_round_median', median([...r.roundPlanningUs]), 'us');
  p('scheduler_planning_us_per_round_max', Math.max(...r.roundPlanningUs), 'us');
  p('scheduler_events_per_round_median', median([...r.roundEvents]), 'events');
  p('scheduler_us_per_event', r.eventUsMean, 'us');
  p('scheduler_us_per_event_max', r.eventUsMax, 'us');
  p('scheduler_work_per_event', r.eventWorkMean, 'steps');
  p('scheduler_work_per_event_max', r.eventWorkMax, 'steps');
  p('plan_setup_ms', r.setupMs, 'ms');
  p('failures', r.failures, 'nodes');
  p('joins', r.joins, 'nodes');
  p('incomplete_nodes', r.incomplete, 'nodes');
  p('planner_agrees', r.plannerAgrees ? 1 : 0, 'bool');
  p('wall_s', r.wallS, 's');
}
