/**
 * The child-process entry point of the POSIX comparison.
 *
 *   node dist/test/posix/run-cases.js --dir DIR [--cases NAME,CATEGORY,...] [--mutate M]
 *     runs cases in DIR (as root; workers switch users) and prints
 *     {"cases": CaseResult[]} as JSON on stdout;
 *   node dist/test/posix/run-cases.js --list
 *     prints the case names, one per line;
 *   node dist/test/posix/run-cases.js --worker [--mutate M]
 *     is a worker (started by the runner through setpriv).
 *
 * --mutate makes the run deliberately wrong (see mutations.ts); only the
 * harness's own test uses it.
 */
import { isAbsolute } from 'node:path';
import { parseArgs } from 'node:util';
import { runCases } from './case-runner.js';
import { ALL_CASES, selectCases } from './cases/index.js';
import { RUN_CASES_ENTRY } from './entry.js';
import { isMutation, type Mutation } from './mutations.js';
import { runWorker } from './worker.js';

function usage(message: string): never {
  process.stderr.write(`run-cases: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      cases: { type: 'string' },
      mutate: { type: 'string' },
      worker: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  });
  let mutation: Mutation | undefined;
  if (values.mutate !== undefined) {
    if (!isMutation(values.mutate)) usage(`unknown mutation ${values.mutate}`);
    mutation = values.mutate;
  }
  if (values.worker) return runWorker(mutation);
  if (values.list) {
    process.stdout.write(ALL_CASES.map((c) => `${c.name}\n`).join(''));
    return;
  }
  if (values.dir === undefined || !isAbsolute(values.dir)) usage('--dir must be an absolute path');
  const cases = selectCases(values.cases === undefined ? undefined : values.cases.split(','));
  const results = await runCases({ dir: values.dir, cases, entry: RUN_CASES_ENTRY, ...(mutation ? { mutation } : {}) });
  process.stdout.write(`${JSON.stringify({ cases: results })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`run-cases: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
