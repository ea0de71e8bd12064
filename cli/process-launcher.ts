import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DfsError } from '../common/errors.js';
import type { ReadyInfo } from '../common/ready-file.js';
import { threadPoolSizeFor } from '../fuse/fuse-session.js';
import { MOUNT_READERS } from './mount-commands.js';

/** The CLI entry point that every spawned process runs. */
export const DFS_ENTRY = fileURLToPath(new URL('./dfs.js', import.meta.url));

/**
 * V8 flags every dfs process runs with: the launcher passes them, and the
 * entry point's `#!/usr/bin/env -S node ...` line carries the same ones for
 * `dfs` run directly (systemd units, a shell).
 *
 * Left to itself, V8 fits the old generation's limit to what the heap holds
 * after its first collections (16 to 20 MB in a chunkserver, a mount or a
 * client: a 40 MB limit) and starts marking whenever the room under it is
 * less than the young generation could promote. A process streaming 1 MiB
 * Buffers at 100 MB/s then ran a full mark-compact about 12 times a second
 * (--trace-gc): 35 to 50% of the CPU of a chunkserver, a mount and a client
 * in profiles of a 1 GiB write and read. Given an initial size, V8 does not
 * fit that first limit down: a client's full collections over such a run
 * fell from 171 to 12. dd through the mount then wrote 1.4x and read 2x
 * faster with a third less CPU per GiB written; the cost is resident memory
 * (dead Buffers wait longer for a collection): the benchmark's peaks of a
 * chunkserver and of the mount rose by about 40 MiB (README, performance).
 */
export const SERVER_NODE_ARGS: readonly string[] = ['--initial-old-space-size=128'];

export interface LaunchSpec {
  role: 'master' | 'chunkserver' | 'mount';
  /** Arguments after the role. */
  args: string[];
  readyFile: string;
  logFile: string;
  /** Survive the launcher's exit (dfs cluster start --detach). */
  detached: boolean;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for node itself after SERVER_NODE_ARGS (a V8 flag given twice takes the later), e.g. --cpu-prof to profile a server. */
  nodeArgs?: string[];
  /** A command the process runs under, e.g. ['ip', 'netns', 'exec', 'h1'] to put it on another host. */
  wrapper?: string[];
}

export interface Launched extends ReadyInfo {
  logFile: string;
}

/**
 * Spawns `dfs <role> ...` with its output in a log file and waits until it
 * writes its ready file, racing that against the process exiting early (then
 * the error carries the end of its log).
 */
export async function launch(spec: LaunchSpec): Promise<Launched> {
  await rm(spec.readyFile, { force: true });
  const log = openSync(spec.logFile, 'a');
  const argv = [process.execPath, ...SERVER_NODE_ARGS, ...(spec.nodeArgs ?? []), DFS_ENTRY, spec.role, ...spec.args, '--ready-file', spec.readyFile];
  const [command, ...args] = [...(spec.wrapper ?? []), ...argv];
  const env = spec.env ?? process.env;
  const child = spawn(command!, args, {
    stdio: ['ignore', log, log],
    detached: spec.detached,
    // Set here so that `dfs mount` need not run itself again (the pid that writes the ready file is the one spawned).
    env: spec.role === 'mount' ? { ...env, UV_THREADPOOL_SIZE: String(threadPoolSizeFor(MOUNT_READERS)) } : env,
  });
  closeSync(log);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
  try {
    for (;;) {
      const ready = await readReady(spec.readyFile);
      if (ready !== undefined && ready.pid === child.pid) {
        if (spec.detached) child.unref();
        return { ...ready, logFile: spec.logFile };
      }
      if (exited !== undefined) {
        throw new DfsError('UNAVAILABLE', `${spec.role} exited (${exited.signal ?? exited.code}) before it was ready:\n${tail(spec.logFile)}`);
      }
      if (Date.now() > deadline) throw new DfsError('TIMEOUT', `${spec.role} was not ready in time:\n${tail(spec.logFile)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    if (exited === undefined) child.kill('SIGKILL');
    throw err;
  }
}

async function readReady(path: string): Promise<ReadyInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ReadyInfo;
  } catch {
    // Not written yet: the writer renames it into place whole.
    return undefined;
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if `pid` is still one of our processes (its command line names our entry point and `marker`), not a reused pid. */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(DFS_ENTRY) && cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function terminate(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
}
