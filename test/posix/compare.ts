/**
 * The POSIX comparison: runs the same cases in a reference directory (a
 * local Linux file system) and a target directory (the mount under test),
 * each in its own `run-cases` child process, and reports every difference in
 * outcome (ok or errno), in what a call returned, and in what root observed
 * afterwards. It also reports reference results that contradict a case's
 * stated expectation, so that a case cannot pass by failing for the wrong
 * reason.
 *
 * This process does no I/O in either directory: a FUSE mount served by the
 * calling process stays usable.
 */
import { spawn } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { assert } from '../../common/assert.js';
import type { CaseResult, StepResult } from './case-runner.js';
import { RUN_CASES_ENTRY } from './entry.js';
import type { Mutation } from './mutations.js';
import type { PathObservation } from './observation.js';

export interface Mismatch {
  caseName: string;
  /** 1-based step number within the case. */
  step: number;
  description: string;
  reference: unknown;
  target: unknown;
}

export interface CompareOptions {
  targetDir: string;
  referenceDir: string;
  /** Case names or categories (see `run-cases --list`); all cases when absent. */
  cases?: string[];
  /** Makes the target run deliberately wrong; only for testing the harness itself. */
  targetMutation?: Mutation;
}

/** A run takes seconds; a hung mount must fail the comparison, not hang it. */
const RUN_TIMEOUT_MS = 5 * 60_000;

/** Mismatches shown by formatMismatches before it summarizes the rest. */
const FORMAT_MAX_MISMATCHES = 200;

export async function comparePosix(opts: CompareOptions): Promise<{ cases: number; steps: number; mismatches: Mismatch[] }> {
  // allSettled: when one run fails, the other still finishes before this returns (no child left running).
  const [referenceRun, targetRun] = await Promise.allSettled([
    runInChild(opts.referenceDir, opts.cases, undefined),
    runInChild(opts.targetDir, opts.cases, opts.targetMutation),
  ]);
  if (referenceRun.status === 'rejected') throw referenceRun.reason;
  if (targetRun.status === 'rejected') throw targetRun.reason;
  const reference = referenceRun.value;
  const target = targetRun.value;
  assert(reference.length === target.length, 'both runs ran the same cases');
  const mismatches: Mismatch[] = [];
  let steps = 0;
  for (const [i, ref] of reference.entries()) {
    const tgt = target[i]!;
    assert(ref.name === tgt.name && ref.steps.length === tgt.steps.length, `case ${ref.name} ran the same steps in both directories`);
    const reported = new Map<string, string>();
    for (const [j, refStep] of ref.steps.entries()) {
      steps++;
      mismatches.push(...compareStep(ref.name, j + 1, refStep, tgt.steps[j]!, reported));
    }
  }
  return { cases: reference.length, steps, mismatches };
}

/**
 * `lastDiff` holds, per path, the difference last seen after an earlier step
 * of the case: a difference that merely persists (a wrong mode stays wrong)
 * is reported once, where it appeared.
 */
function compareStep(caseName: string, step: number, ref: StepResult, tgt: StepResult, lastDiff: Map<string, string>): Mismatch[] {
  const at = `step ${step} (${ref.description})`;
  const found: Mismatch[] = [];
  const mismatch = (description: string, reference: unknown, target: unknown) => found.push({ caseName, step, description, reference, target });
  if (ref.outcome !== ref.expected) {
    mismatch(`${at}: the reference file system returned ${ref.outcome} but the case expects ${ref.expected} (the case or the reference is wrong)`, ref.outcome, tgt.outcome);
  }
  if (ref.outcome !== tgt.outcome) mismatch(`${at}: outcome: reference ${ref.outcome}, target ${tgt.outcome}`, ref.outcome, tgt.outcome);
  if (!isDeepStrictEqual(ref.value, tgt.value)) {
    mismatch(`${at}: returned value: reference ${show(ref.value)}, target ${show(tgt.value)}`, ref.value, tgt.value);
  }
  const paths = new Set([...Object.keys(ref.observed), ...Object.keys(tgt.observed)]);
  for (const path of paths) {
    const diff = observationDiff(ref.observed[path], tgt.observed[path]);
    const key = JSON.stringify(diff ?? null);
    const persists = lastDiff.get(path) === key;
    lastDiff.set(path, key);
    if (diff === undefined || persists) continue;
    const refObs = ref.observed[path];
    const tgtObs = tgt.observed[path];
    if (refObs === undefined || tgtObs === undefined || 'error' in refObs !== 'error' in tgtObs) {
      mismatch(`${at}: afterwards ${JSON.stringify(path)}: reference ${brief(refObs)}, target ${brief(tgtObs)}`, refObs, tgtObs);
      continue;
    }
    const fields = Object.keys(diff.reference).map((k) => `${k} ${show(diff.reference[k])} vs ${show(diff.target[k])}`);
    mismatch(`${at}: afterwards ${JSON.stringify(path)} differs (reference vs target): ${fields.join('; ')}`, diff.reference, diff.target);
  }
  return found;
}

type Fields = Record<string, unknown>;

/** The fields (of the union of both) whose values differ; undefined when the observations agree. */
function observationDiff(ref: PathObservation | undefined, tgt: PathObservation | undefined): { reference: Fields; target: Fields } | undefined {
  const r = (ref ?? {}) as Fields;
  const t = (tgt ?? {}) as Fields;
  const reference: Fields = {};
  const target: Fields = {};
  for (const key of new Set([...Object.keys(r), ...Object.keys(t)])) {
    if (isDeepStrictEqual(r[key], t[key])) continue;
    reference[key] = r[key];
    target[key] = t[key];
  }
  return Object.keys(reference).length === 0 ? undefined : { reference, target };
}

/** An observation in a few words, for when one side has the entry and the other does not. */
function brief(observation: PathObservation | undefined): string {
  if (observation === undefined) return 'did not look';
  if ('error' in observation) return `lstat fails with ${observation.error}`;
  return `has a ${observation.type} (${observation.mode} ${observation.owner}:${observation.group})`;
}

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function formatMismatches(m: Mismatch[]): string {
  if (m.length === 0) return 'no mismatches';
  const lines = [`${m.length} mismatch${m.length === 1 ? '' : 'es'}:`];
  let lastCase = '';
  for (const mismatch of m.slice(0, FORMAT_MAX_MISMATCHES)) {
    if (mismatch.caseName !== lastCase) lines.push(`  ${mismatch.caseName}`);
    lastCase = mismatch.caseName;
    lines.push(`    ${mismatch.description}`);
  }
  if (m.length > FORMAT_MAX_MISMATCHES) lines.push(`  ... and ${m.length - FORMAT_MAX_MISMATCHES} more`);
  return lines.join('\n');
}

/** Runs the cases in `dir` in a child process and parses its JSON. */
function runInChild(dir: string, cases: string[] | undefined, mutation: Mutation | undefined): Promise<CaseResult[]> {
  const args = [RUN_CASES_ENTRY, '--dir', dir];
  if (cases !== undefined) args.push('--cases', cases.join(','));
  if (mutation !== undefined) args.push('--mutate', mutation);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`run-cases in ${dir} failed (${code ?? signal}): ${Buffer.concat(err).toString()}`));
        return;
      }
      resolve((JSON.parse(Buffer.concat(out).toString()) as { cases: CaseResult[] }).cases);
    });
  });
}
