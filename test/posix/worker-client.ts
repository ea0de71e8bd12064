/**
 * The runner's side of a worker: spawns `run-cases.js --worker` as an
 * identity (through setpriv), checks that the child really has that
 * identity's ids, and sends it one request at a time.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { assert } from '../../common/assert.js';
import { IDENTITIES, runAsPrefix, type Who } from './identities.js';
import type { Mutation } from './mutations.js';
import type { WorkerHello, WorkerRequest, WorkerResponse } from './protocol.js';

type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
/** A request without its id: the client numbers requests. */
export type Request = WithoutId<WorkerRequest>;

function sortedIds(ids: readonly number[]): string {
  return [...new Set(ids)].sort((x, y) => x - y).join(',');
}

export class WorkerClient {
  private nextId = 1;
  private readonly stderr: string[] = [];
  private readonly lines: AsyncIterator<string>;
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly who: Who,
    private readonly entry: string,
    private readonly child: ChildProcessWithoutNullStreams,
    readline: Interface,
  ) {
    this.lines = readline[Symbol.asyncIterator]();
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => this.stderr.push(chunk));
    // A spawn failure (setpriv or node missing) ends in 'close' too; keep its reason for the report.
    child.on('error', (err) => this.stderr.push(`${err.message}\n`));
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  }

  /**
   * Starts a worker. `actAs` is the identity whose rights it gets; it differs
   * from `who` only under the 'permissions-unchecked' mutation.
   */
  static async start(entry: string, who: Who, actAs: Who, mutation: Mutation | undefined): Promise<WorkerClient> {
    const command = [...runAsPrefix(actAs), process.execPath, entry, '--worker', ...(mutation ? ['--mutate', mutation] : [])];
    const child = spawn(command[0]!, command.slice(1), { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new WorkerClient(who, entry, child, createInterface({ input: child.stdout, crlfDelay: Infinity }));
    try {
      const hello = JSON.parse(await client.nextLine()) as WorkerHello;
      const id = IDENTITIES[actAs];
      // Root keeps whatever supplementary groups the caller had; they do not matter to root.
      // Node's getgroups() always includes the effective gid.
      const groupsMatch = actAs === 'root' || sortedIds(hello.groups) === sortedIds([id.gid, ...id.groups]);
      assert(
        hello.kind === 'hello' && hello.uid === id.uid && hello.gid === id.gid && groupsMatch,
        `worker for ${actAs} runs as ${JSON.stringify(hello)}`,
      );
      return client;
    } catch (err) {
      client.child.kill('SIGKILL');
      await client.exited;
      throw err;
    }
  }

  async request(request: Request): Promise<WorkerResponse> {
    const id = this.nextId++;
    this.child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    const response = JSON.parse(await this.nextLine()) as WorkerResponse;
    assert(response.id === id, `worker ${this.who} answered request ${response.id}, expected ${id}`);
    return response;
  }

  /** Closes the worker's stdin (it closes its descriptors and exits) and waits for it. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const code = await this.exited;
    assert(code === 0, `worker ${this.who} exited with ${code}: ${this.stderr.join('')}`);
  }

  private async nextLine(): Promise<string> {
    const next = await this.lines.next();
    if (next.done) {
      const code = await this.exited;
      // The usual cause on a new machine: a checkout (or node) under a directory that only root can enter.
      throw new Error(
        `worker ${this.who} exited (${code}) before answering: ${this.stderr.join('')}` +
          `(workers run as other users: ${process.execPath} and ${this.entry} must be readable and executable by them)`,
      );
    }
    return next.value;
  }
}
