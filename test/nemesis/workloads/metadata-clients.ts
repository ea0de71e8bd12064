import { isDfsError, type DfsClient, type ErrorCode } from '../../../client-lib/index.js';
import type { Prng } from '../../sim/prng.js';
import type { Availability } from '../availability.js';
import { NAMES, type NamespaceInput, type NamespaceOperation, type NamespaceOutput } from './namespace-model.js';
import { ErrorCounts, Loop, type Workload } from './workload.js';

/** Failures after which the operation may or may not have been applied: recorded as never returning. */
const UNKNOWN_OUTCOME: ReadonlySet<ErrorCode> = new Set(['TIMEOUT', 'UNAVAILABLE', 'NOT_LEADER', 'OVERLOADED']);
/** Tokens are file modes: permission bits with the owner's read and write always on. */
const TOKEN_BASE = 0o600;
const TOKENS = 0o200;

/**
 * Metadata clients doing creates, renames, deletes and stats on a few
 * directories, recording every operation (call and return on the run's
 * clock, µs) for the linearizability check.
 */
export class MetadataClients implements Workload {
  readonly name = 'metadata';
  readonly errors = new ErrorCounts();
  readonly history: NamespaceOperation[] = [];
  /** Failures no model explains (an unexpected code, an untyped error): each one fails the run. */
  readonly definiteFailures: string[] = [];
  operations = 0;
  unknownOutcomes = 0;
  private readonly loops: Loop[];
  private nextToken = 0;

  constructor(
    private readonly clients: readonly DfsClient[],
    readonly root: string,
    readonly dirs: number,
    private readonly availability: Availability,
    private readonly nowUs: () => number,
    rng: Prng,
    paceMs: number,
  ) {
    this.loops = clients.map((client, i) => {
      const random = rng.fork();
      return new Loop(() => this.step(`m${i}`, client, random), paceMs);
    });
  }

  path(dir: number, name: string): string {
    return `${this.root}/d${dir}/${name}`;
  }

  /** One stat of every name, one after another, with this first client: the history's last word. */
  async statEverything(who: string): Promise<void> {
    const client = this.clients[0]!;
    for (let dir = 0; dir < this.dirs; dir++) for (const name of NAMES) await this.run(who, client, { kind: 'stat', dir, name });
  }

  private async step(who: string, client: DfsClient, rng: Prng): Promise<void> {
    const dir = rng.int(0, this.dirs - 1);
    const name = rng.pick(NAMES);
    const roll = rng.next();
    let input: NamespaceInput;
    if (roll < 0.3) input = { kind: 'create', dir, name, token: TOKEN_BASE + (this.nextToken++ % TOKENS) };
    else if (roll < 0.5) input = { kind: 'rename', dir, from: name, to: rng.pick(NAMES.filter((n) => n !== name)) };
    else if (roll < 0.65) input = { kind: 'delete', dir, name };
    else input = { kind: 'stat', dir, name };
    await this.run(who, client, input);
  }

  private async run(who: string, client: DfsClient, input: NamespaceInput): Promise<void> {
    this.operations++;
    const call = this.nowUs();
    try {
      const output = await this.apply(client, input);
      this.history.push({ client: who, input, output, call, return: this.nowUs() });
      this.availability.success();
    } catch (err) {
      const code = this.errors.add(err);
      if (isDfsError(err) && UNKNOWN_OUTCOME.has(err.code)) {
        this.unknownOutcomes++;
        // A read that never returned constrains nothing; a write may have taken effect.
        if (input.kind !== 'stat') this.history.push({ client: who, input, output: undefined, call, return: Infinity });
      } else {
        this.definiteFailures.push(`${who}: ${input.kind} in d${input.dir} failed with ${code}: ${(err as Error).message}`);
      }
    }
  }

  private async apply(client: DfsClient, input: NamespaceInput): Promise<NamespaceOutput> {
    try {
      switch (input.kind) {
        case 'create':
          await client.create(this.path(input.dir, input.name), { mode: input.token, exclusive: true });
          return { ok: true };
        case 'rename':
          await client.rename(this.path(input.dir, input.from), this.path(input.dir, input.to));
          return { ok: true };
        case 'delete':
          await client.delete(this.path(input.dir, input.name));
          return { ok: true };
        case 'stat': {
          const attr = await client.stat(this.path(input.dir, input.name));
          return { token: attr.mode & 0o777 };
        }
      }
    } catch (err) {
      if (isDfsError(err, 'NOT_FOUND')) return input.kind === 'stat' ? { token: null } : { refused: 'NOT_FOUND' };
      if (isDfsError(err, 'ALREADY_EXISTS') && input.kind === 'create') return { refused: 'ALREADY_EXISTS' };
      throw err;
    }
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }
}
