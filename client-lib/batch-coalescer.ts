import { assert } from '../common/assert.js';
import { DfsError } from '../common/errors.js';

export interface CoalescerLimits {
  /** Ops in one batch. */
  readonly opsMax: number;
  /** Estimated bytes of one batch (see `bytesOf`). */
  readonly bytesMax: number;
}

interface Pending<Op, Result> {
  readonly op: Op;
  readonly bytes: number;
  resolve(result: Result): void;
  reject(err: unknown): void;
}

/**
 * Group commit on the client side: ops submitted while a batch is in flight
 * wait, and leave together as the next batch when it returns. No timer: an
 * op submitted to an idle coalescer leaves at the end of the current turn
 * of the event loop (with whatever else that turn submitted), so a lone
 * caller pays no latency for batching, and under load batches grow with
 * the load.
 *
 * One batch is in flight at a time, and `send` retries a batch that failed
 * as a whole before it returns, so no op queued behind a batch ever reaches
 * the master before every op of that batch has: a client's requests apply in
 * an order that stays within one batch of the order of their ids, which is
 * what lets the master's session window (LIMITS.batchOpsMax <= half of it)
 * recognise every retry.
 *
 * The queue holds exactly the calls the application has in flight (each is
 * one of its pending promises), so it grows only as far as the application's
 * own concurrency.
 */
export class Coalescer<Op, Result> {
  private queue: Pending<Op, Result>[] = [];
  private inFlight = false;
  private scheduled = false;
  private closed = false;

  constructor(
    /** Sends one batch (retrying it whole as it sees fit); resolves with one result per op, in order. */
    private readonly send: (ops: Op[]) => Promise<readonly Result[]>,
    private readonly limits: CoalescerLimits,
    /** An upper bound on what `op` adds to the encoded batch. */
    private readonly bytesOf: (op: Op) => number,
  ) {
    assert(limits.opsMax >= 1 && limits.bytesMax >= 1, 'a coalescer needs room for one op');
  }

  /** Resolves with the op's own result; rejects with the error of the batch it went in, if that failed whole. */
  submit(op: Op): Promise<Result> {
    if (this.closed) return Promise.reject(new DfsError('UNAVAILABLE', 'the client is closed'));
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ op, bytes: this.bytesOf(op), resolve, reject });
      this.schedule();
    });
  }

  /** Ops waiting for a batch (not counting the one in flight). */
  get queued(): number {
    return this.queue.length;
  }

  /** Fails everything still queued; the batch in flight settles by itself. */
  close(): void {
    this.closed = true;
    const queue = this.queue;
    this.queue = [];
    const err = new DfsError('UNAVAILABLE', 'the client is closed');
    for (const p of queue) p.reject(err);
  }

  /**
   * Sends once the current turn of the event loop is over (setImmediate: after
   * every promise continuation has run), so calls made together, a
   * Promise.all over many creates or the callers a batch just answered
   * calling again, leave as one batch rather than the first alone and the
   * rest a round trip behind it.
   */
  private schedule(): void {
    if (this.inFlight || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (this.queue.length > 0) {
        await this.sendBatch(this.take());
        // Let the callers just answered call again before the next batch leaves.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.inFlight = false;
    }
  }

  private async sendBatch(batch: Pending<Op, Result>[]): Promise<void> {
    let results: readonly Result[];
    try {
      results = await this.send(batch.map((p) => p.op));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    if (results.length !== batch.length) {
      const err = new DfsError('INTERNAL', `a batch of ${batch.length} ops came back with ${results.length} results`);
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
  }

  /** The longest prefix of the queue within the limits (always at least one op). */
  private take(): Pending<Op, Result>[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.limits.opsMax) {
      const next = this.queue[n]!.bytes;
      if (n > 0 && bytes + next > this.limits.bytesMax) break;
      bytes += next;
      n++;
    }
    return this.queue.splice(0, n);
  }
}
