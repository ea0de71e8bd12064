/**
 * Runs cases in one directory: one worker per identity, steps sent in
 * order to the worker of the step's user, and after each step root's
 * observation of the paths involved, normalized. Runs inside the
 * `run-cases` child process, never in a process that serves a mount.
 *
 * Timestamps: the kernel stamps times from a coarse clock (one tick, 4 ms at
 * HZ=250, 10 ms at HZ=100), so an update right after an observation can
 * leave a time equal to the observed one, and "changed" would depend on
 * timing. Before each step the runner waits until the wall clock is past
 * every observed ctime by more than a tick, so every update is visible.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { assert, assertNever } from '../../common/assert.js';
import type { Expectation, Operation, Outcome, PosixCase, Step } from './case-types.js';
import { describeStep } from './describe-step.js';
import { WHO, type Who } from './identities.js';
import type { Mutation } from './mutations.js';
import { normalize, staticView, timesOf, type PathObservation, type PreviousTimes, type StaticView, type TimesSet } from './observation.js';
import type { MissingObservation, RawObservation, StepValue } from './protocol.js';
import { WorkerClient } from './worker-client.js';

/** Longer than one kernel clock tick at HZ=100. */
const CLOCK_TICK_MARGIN_MS = 12;

export interface StepResult {
  description: string;
  outcome: Outcome;
  /** The case's expectation, resolved against this machine's sysctls. */
  expected: Outcome;
  value?: string | string[] | StaticView;
  observed: Record<string, PathObservation>;
}

export interface CaseResult {
  name: string;
  summary: string;
  steps: StepResult[];
}

/** The paths a step changes (none for read-only operations). */
function changedPaths(step: Step, fdPaths: ReadonlyMap<string, string>): string[] {
  switch (step.op) {
    case 'read':
    case 'fstat':
    case 'readFile':
    case 'readdir':
    case 'readlink':
    case 'stat':
    case 'lstat':
      return [];
    case 'rename':
      return [step.from, step.to];
    case 'link':
      return [step.existing, step.path];
    case 'close':
    case 'write':
    case 'ftruncate': {
      const path = fdPaths.get(`${step.as}/${step.fd}`);
      return path === undefined ? [] : [path];
    }
    case 'open':
    case 'writeFile':
    case 'mkdir':
    case 'rmdir':
    case 'unlink':
    case 'symlink':
    case 'chmod':
    case 'chown':
    case 'truncate':
    case 'utimes':
    case 'mkfifo':
      return [step.path];
    default:
      return assertNever(step, 'step');
  }
}

export function caseDirName(name: string): string {
  assert(/^[a-z0-9-]+\/[a-z0-9-]+$/.test(name), `case name ${name} must be <category>/<what> in [a-z0-9-]`);
  return name.replace('/', '--');
}

/** The parent of a case path, within the case directory ("." for top-level names). */
function parentOf(path: string): string | undefined {
  if (path === '.') return undefined;
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? '.' : trimmed.slice(0, slash);
}

/** The default observation: the changed paths and their parent directories. */
function defaultObserved(step: Step, fdPaths: ReadonlyMap<string, string>): string[] {
  const withParents = changedPaths(step, fdPaths).flatMap((path) => [path, parentOf(path)]);
  return [...new Set(withParents.filter((p): p is string => p !== undefined))];
}

/** The step without who runs it and what is expected: what the worker performs. */
function operationOf(step: Step): Operation {
  const operation: Record<string, unknown> = { ...step };
  delete operation['as'];
  delete operation['expect'];
  delete operation['observe'];
  return operation as Operation;
}

/**
 * Whether the step set this path's times, and how. Only a successful
 * utimes sets them, and only on the inode it reached: through a symlink
 * (without noFollow) that is the target, not the link observed at `path`.
 */
function timesSetBy(step: Step, path: string, outcome: Outcome, raw: RawObservation | MissingObservation): TimesSet {
  if (step.op !== 'utimes' || step.path !== path || outcome !== 'ok') return 'none';
  if ('error' in raw || (raw.type === 'symlink' && !step.noFollow)) return 'none';
  return step.times === 'now' ? 'now' : 'explicit';
}

function readSysctl(name: string): number {
  return Number(readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim());
}

function resolveExpectation(expect: Expectation): Outcome {
  if (typeof expect === 'string') return expect;
  return readSysctl(expect.sysctl) !== 0 ? expect.on : expect.off;
}

function valueOf(value: StepValue | undefined): StepResult['value'] {
  if (value === undefined) return undefined;
  switch (value.kind) {
    case 'content':
      return value.content;
    case 'target':
      return value.target;
    case 'entries':
      return value.entries;
    case 'stat':
      return staticView(value.stat);
  }
}

export interface RunOptions {
  /** The absolute directory the cases run in: empty, root-owned, mode 0755. */
  dir: string;
  cases: readonly PosixCase[];
  /** The run-cases entry point that workers are started from. */
  entry: string;
  mutation?: Mutation;
}

export async function runCases(options: RunOptions): Promise<CaseResult[]> {
  assert(process.getuid!() === 0, 'POSIX cases must be run as root (workers switch users with setpriv)');
  const used = new Set<Who>(['root', ...options.cases.flatMap((c) => c.steps.map((s) => s.as))]);
  const workers = new Map<Who, WorkerClient>();
  let results: CaseResult[];
  try {
    const started = await Promise.allSettled(
      WHO.filter((who) => used.has(who)).map(async (who) => {
        const actAs = options.mutation === 'permissions-unchecked' ? 'root' : who;
        workers.set(who, await WorkerClient.start(options.entry, who, actAs, options.mutation));
      }),
    );
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    results = [];
    for (const posixCase of options.cases) results.push(await runCase(posixCase, options.dir, workers));
  } catch (err) {
    // The first failure is the one to report; stopping the other workers is best effort.
    await Promise.allSettled([...workers.values()].map((w) => w.stop()));
    throw err;
  }
  const stopped = await Promise.allSettled([...workers.values()].map((w) => w.stop()));
  for (const s of stopped) if (s.status === 'rejected') throw s.reason;
  return results;
}

async function runCase(posixCase: PosixCase, dir: string, workers: ReadonlyMap<Who, WorkerClient>): Promise<CaseResult> {
  const root = workers.get('root')!;
  const caseDir = `${dir}/${caseDirName(posixCase.name)}`;
  await root.request({ kind: 'make-case-dir', path: caseDir });
  const previous = new Map<string, PreviousTimes>();
  const fdPaths = new Map<string, string>();
  let latestCtimeNs = 0n;
  const steps: StepResult[] = [];
  for (const step of posixCase.steps) {
    await waitForClockPast(latestCtimeNs);
    const worker = workers.get(step.as)!;
    const response = await worker.request({ kind: 'step', caseDir, operation: operationOf(step) });
    if (step.op === 'open') fdPaths.set(`${step.as}/${step.fd}`, step.path);
    const paths = step.observe ?? defaultObserved(step, fdPaths);
    const observed: Record<string, PathObservation> = {};
    if (paths.length > 0) {
      const seen = await root.request({ kind: 'observe', caseDir, paths });
      for (const path of paths) {
        const raw = seen.observations![path]!;
        observed[path] = normalize(raw, previous.get(path), timesSetBy(step, path, response.outcome, raw));
        const times = timesOf(raw);
        if (times === undefined) {
          previous.delete(path);
        } else {
          previous.set(path, times);
          if (times.ctimeNs > latestCtimeNs) latestCtimeNs = times.ctimeNs;
        }
      }
    }
    const result: StepResult = { description: describeStep(step), outcome: response.outcome, expected: resolveExpectation(step.expect), observed };
    const value = valueOf(response.value);
    if (value !== undefined) result.value = value;
    steps.push(result);
  }
  await Promise.all([...workers.values()].map((w) => w.request({ kind: 'end-case' })));
  return { name: posixCase.name, summary: posixCase.summary, steps };
}

/** Waits until the wall clock is more than a clock tick past `ns`: a condition on the clock, not a guessed delay. */
async function waitForClockPast(ns: bigint): Promise<void> {
  const targetMs = Number(ns / 1_000_000n) + CLOCK_TICK_MARGIN_MS;
  for (let now = Date.now(); now <= targetMs; now = Date.now()) await sleep(targetMs - now + 1);
}
