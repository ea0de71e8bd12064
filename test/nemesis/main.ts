/**
 * `npm run nemesis -- --seed S --duration SECONDS [--faults kind,kind] [--keep]`
 *
 * One nemesis run (see OVERVIEW.md): progress on stderr, the report on
 * stdout, one `<name> <value>` line per figure. Exit status 0 when every
 * check passes, 1 when one fails, 2 when the run itself could not be made.
 */
import { Command } from 'commander';
import { randomInt } from 'node:crypto';
import { formatFailures, formatReport, passed } from './report.js';
import { runNemesis } from './run.js';
import { FAULT_KINDS, parseKinds } from './schedule.js';

const program = new Command('nemesis')
  .description('Jepsen-style fault injection against a real 8-host cluster, with a checker at the end')
  .option('--seed <n>', 'seed of the fault plan and the workloads (default: random)')
  .option('--duration <seconds>', 'how long faults are injected', '60')
  .option('--faults <kinds>', `comma-separated fault kinds to draw from (default: all: ${FAULT_KINDS.join(', ')})`)
  .option('--keep', 'keep the cluster directory (logs, data) when a check fails')
  .parse();

const opts = program.opts<{ seed?: string; duration: string; faults?: string; keep?: boolean }>();
const seed = opts.seed !== undefined ? Number(opts.seed) : randomInt(1, 2 ** 31);
const durationS = Number(opts.duration);
if (!Number.isInteger(seed) || seed < 0) program.error(`--seed must be a non-negative integer, not ${opts.seed}`);
if (!Number.isFinite(durationS) || durationS <= 0) program.error(`--duration must be a positive number of seconds, not ${opts.duration}`);

try {
  const kinds = opts.faults !== undefined ? parseKinds(opts.faults) : undefined;
  console.error(`nemesis: seed ${seed}, ${durationS} s of faults (replay with --seed ${seed} --duration ${durationS})`);
  const result = await runNemesis({
    seed,
    durationS,
    ...(kinds ? { kinds } : {}),
    keepOnFailure: opts.keep === true,
    log: (line) => console.error(`nemesis: ${line}`),
  });
  console.log(formatReport(result.report));
  if (!passed(result.report)) {
    console.error(formatFailures(result.report));
    if (result.artifact !== undefined) console.error(`details: ${result.artifact}`);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`nemesis: the run failed before its checks: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 2;
}
// Whatever a failed run left open (a client's channel) must not keep the process alive.
process.exit(process.exitCode ?? 0);
