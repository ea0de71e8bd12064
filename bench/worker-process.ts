import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A benchmark worker: a node process forked from a script beside this one,
 * talking over the IPC channel. Events are awaited with a deadline, raced
 * against the worker dying; kill() is safe to call at any time, and the
 * parent kills every worker it forked when it exits.
 */
export class WorkerProcess<Command, Event extends { type: string }> {
  private readonly events: Event[] = [];
  private waiters: (() => void)[] = [];
  private exit: string | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (event: Event) => {
      this.events.push(event);
      this.wake();
    });
    child.on('exit', (code, signal) => {
      this.exit = `exited (${signal ?? code})`;
      this.wake();
    });
    everyWorker.add(child);
  }

  /** Forks `script` (a file name in bench/, e.g. 'raft-worker.js'). */
  static fork<C, E extends { type: string }>(script: string, args: string[], nodeArgs: string[] = []): WorkerProcess<C, E> {
    const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
    return new WorkerProcess<C, E>(fork(path, args, { execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Whether the IPC channel is still open (the worker has not exited). */
  get connected(): boolean {
    return this.child.connected;
  }

  send(command: Command): void {
    this.child.send(command as object);
  }

  /** The next event of `type` (earlier events of other types are skipped); a `failed` event or the worker's exit throws. */
  async next<T extends Event['type']>(type: T, timeoutMs: number): Promise<Extract<Event, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.type === type || e.type === 'failed');
      if (i !== -1) {
        const [event] = this.events.splice(i, 1);
        if (event!.type === 'failed') throw new Error(`worker ${this.pid} failed: ${(event as { message?: string }).message ?? ''}`);
        return event as Extract<Event, { type: T }>;
      }
      if (this.exit !== undefined) throw new Error(`worker ${this.pid} ${this.exit} while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`worker ${this.pid}: no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the worker to exit by itself, then kills it if it has not within `graceMs`. */
  async stopped(graceMs: number): Promise<void> {
    if (this.exit !== undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.kill();
        resolve();
      }, graceMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    everyWorker.delete(this.child);
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
    everyWorker.delete(this.child);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

const everyWorker = new Set<ChildProcess>();
// A benchmark that crashes must not leave its workers behind.
process.on('exit', () => {
  for (const child of everyWorker) child.kill('SIGKILL');
});
