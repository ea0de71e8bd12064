import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { BATCH_ENTRY_OVERHEAD_BYTES, batchEntryFromBodies } from './log-entry.js';
import type { ApplyResult } from './state-machine.js';

interface Group {
  /** encodeBatchBody of one call's sub-entries. */
  readonly body: Uint8Array;
  readonly count: number;
  resolve(results: readonly ApplyResult[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit on the leader, for Metadata.Batch: the sub-entries of calls
 * that arrive while a Batch entry is on its way through the log wait, and
 * go together as one entry when it is applied. Each Raft entry costs
 * messages, a write on every master and an apply round whatever its size,
 * so clients that each send a few ops at a time (sixteen clients with one
 * create in flight each) share entries instead of paying one apiece.
 *
 * An idle proposer proposes at once (at the end of the current turn of the
 * event loop, with whatever else that turn brought), and a full entry's
 * worth of waiting ops (LIMITS.batchOpsMax) goes at once too, however many
 * are in flight: batching never holds back a full batch, and under heavy
 * load every call's batch goes as its own entry, as it would without this.
 *
 * Groups keep their arrival order and are never split, so a client's ops
 * reach the log in the order it sent them. The queue holds the calls being
 * served, bounded by the gRPC server's concurrent streams.
 */
export class BatchProposer {
  private queue: Group[] = [];
  private queuedOps = 0;
  private inFlight = 0;
  private scheduled = false;

  constructor(
    /** Proposes one encoded Batch entry; resolves with what apply() returned for it. */
    private readonly propose: (entry: Uint8Array) => Promise<ApplyResult>,
    /** The proposer's clock: a Batch entry's time, µs since the epoch. */
    private readonly wallUs: () => number,
  ) {}

  /**
   * Proposes `count` sub-entries (`body`, from encodeBatchBody, within
   * LIMITS.batchEntryMaxBytes with the entry's overhead) as part of a Batch
   * entry; resolves with their results in order, or rejects with the error
   * the whole entry failed with.
   */
  submit(body: Uint8Array, count: number): Promise<readonly ApplyResult[]> {
    if (count > LIMITS.batchOpsMax || body.length + BATCH_ENTRY_OVERHEAD_BYTES > LIMITS.batchEntryMaxBytes) {
      return Promise.reject(new DfsError('TOO_LARGE', `a batch of ${count} ops in ${body.length} bytes does not fit in one entry`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ body, count, resolve, reject });
      this.queuedOps += count;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || !this.mayPropose()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.mayPropose()) this.proposeNext();
    });
  }

  private mayPropose(): boolean {
    return this.queue.length > 0 && (this.inFlight === 0 || this.queuedOps >= LIMITS.batchOpsMax);
  }

  /** Proposes the longest prefix of the queue that fits in one entry (at least one group). */
  private proposeNext(): void {
    let n = 0;
    let ops = 0;
    let bytes = BATCH_ENTRY_OVERHEAD_BYTES;
    while (n < this.queue.length) {
      const g = this.queue[n]!;
      if (n > 0 && (ops + g.count > LIMITS.batchOpsMax || bytes + g.body.length > LIMITS.batchEntryMaxBytes)) break;
      ops += g.count;
      bytes += g.body.length;
      n++;
    }
    const groups = this.queue.splice(0, n);
    this.queuedOps -= ops;
    this.inFlight++;
    let proposed: Promise<ApplyResult>;
    try {
      proposed = this.propose(batchEntryFromBodies(this.wallUs(), groups.map((g) => g.body)));
    } catch (err) {
      // Runs from setImmediate: a throw here would take the process down instead of failing these calls.
      proposed = Promise.reject(err);
    }
    proposed
      .then(
        (applied) => {
          if (!applied.ok) throw applied.error;
          if (applied.value.kind !== 'batch' || applied.value.results.length !== ops) {
            throw new DfsError('INTERNAL', `a batch of ${ops} applied as ${applied.value.kind}`);
          }
          let at = 0;
          for (const g of groups) {
            g.resolve(applied.value.results.slice(at, at + g.count));
            at += g.count;
          }
        },
      )
      .catch((err: unknown) => {
        for (const g of groups) g.reject(err);
      })
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
  }
}
