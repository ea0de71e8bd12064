import { isDfsError } from '../../../client-lib/index.js';
import { sleep } from '../../../common/backoff.js';

/** A loop of one kind of client operation that runs until stopped. */
export interface Workload {
  readonly name: string;
  start(): void;
  /** Stops issuing operations and waits for the ones in flight. */
  stop(): Promise<void>;
}

/** Operations that ended in an error, by error code, for the report's detail. */
export class ErrorCounts {
  readonly byCode = new Map<string, number>();

  add(err: unknown): string {
    const code = errorCode(err);
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    return code;
  }

  get total(): number {
    let n = 0;
    for (const v of this.byCode.values()) n += v;
    return n;
  }

  describe(): string {
    return [...this.byCode.entries()].sort().map(([code, n]) => `${code}=${n}`).join(' ') || 'none';
  }
}

/** The error's stable code; anything that is not a DfsError is itself a finding (nothing may reach a client untyped). */
export function errorCode(err: unknown): string {
  if (isDfsError(err)) return err.code;
  return `UNTYPED(${err instanceof Error ? err.message.slice(0, 80) : String(err)})`;
}

/**
 * Runs `step` in a loop until stopped, pausing `paceMs` between steps so a
 * few clients do not saturate a 2-core machine, and yielding to the event
 * loop so a client that fails without I/O does not starve everything else.
 */
export class Loop {
  private running = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly step: () => Promise<void>,
    private readonly paceMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        await this.step();
        await (this.paceMs > 0 ? sleep(this.paceMs) : new Promise((resolve) => setImmediate(resolve)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
