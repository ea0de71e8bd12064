import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { terminate } from '../cli/process-launcher.js';
import type { ShapedHost } from './distribution-network.js';
import type { HostEvent, HostTask, WatchResult } from './distribution-host.js';

const HOST_SCRIPT = fileURLToPath(new URL('./distribution-host.js', import.meta.url));

type Result<T extends HostTask['task']> = T extends 'servers'
  ? { servers: { id: string; address: string }[] }
  : T extends 'watch'
    ? WatchResult
    : { sha256: string; bytes: number; ms: number };

/**
 * Runs one task of distribution-host.ts on a host and returns its result;
 * a `failed` event, an exit without a result or the deadline throws (the
 * process is ended by PID first).
 */
export async function runOnHost<T extends HostTask>(host: ShapedHost, task: T, timeoutMs: number): Promise<Result<T['task']>> {
  const [command, ...args] = [...host.wrapper, process.execPath, HOST_SCRIPT, JSON.stringify(task)];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([exited, deadline]);
    if (outcome === 'timeout') throw new Error(`${task.task} on ${host.namespace}: no result within ${timeoutMs} ms`);
    const events = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as HostEvent);
    const last = events[events.length - 1];
    if (last?.type === 'failed') throw new Error(`${task.task} on ${host.namespace} failed: ${last.message}`);
    if (last?.type !== 'result') throw new Error(`${task.task} on ${host.namespace} exited (${outcome}) without a result: ${err.trim().slice(-2000)}`);
    const { type: _type, ...result } = last;
    return result as unknown as Result<T['task']>;
  } finally {
    clearTimeout(timer);
    // `ip netns exec` execs the command, so the child's pid is the task's own.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) await terminate(child.pid, 2_000);
  }
}
