import { formatResult, Simulation, type SimOptions } from './simulation.js';
import type { SimBug } from './sim-node.js';

/**
 * `SEED=<n> npm run sim` replays one seed; SEEDS=<count> runs that many from
 * SEED (default 1); STEPS=<events> sets the chaos phase's length; NODES=3|5|7
 * fixes the cluster size; TRACE=1 prints the fault and leadership trace of a
 * failing run; BUG=doubleVote|unsyncedEntries|staleRead injects a defect.
 */
function main(): void {
  const env = process.env;
  const start = Number(env['SEED'] ?? 1);
  const count = Number(env['SEEDS'] ?? 1);
  const steps = env['STEPS'] === undefined ? undefined : Number(env['STEPS']);
  const nodes = env['NODES'] === undefined ? undefined : Number(env['NODES']);
  const bug = env['BUG'] as SimBug | undefined;
  const trace = env['TRACE'] === '1';
  for (const [name, v] of [['SEED', start], ['SEEDS', count], ['STEPS', steps], ['NODES', nodes]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new Error(`${name} must be a non-negative integer`);
  }
  let failures = 0;
  const began = process.hrtime.bigint();
  for (let seed = start; seed < start + count; seed++) {
    const options: SimOptions = { seed, trace };
    if (steps !== undefined) options.steps = steps;
    if (nodes !== undefined) options.nodes = nodes;
    if (bug !== undefined) options.bug = bug;
    const result = new Simulation(options).run();
    console.log(formatResult(result));
    if (!result.ok) {
      failures++;
      console.log(`  failure: ${result.failure}`);
      console.log(`  replay:  SEED=${seed}${steps === undefined ? '' : ` STEPS=${steps}`}${nodes === undefined ? '' : ` NODES=${nodes}`}${bug === undefined ? '' : ` BUG=${bug}`} TRACE=1 npm run sim`);
      if (trace) for (const line of result.trace) console.log(`  ${line}`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  console.log(`${count - failures} passed, ${failures} failed (${(count / seconds).toFixed(1)} seeds/s)`);
  process.exitCode = failures > 0 ? 1 : 0;
}

main();
