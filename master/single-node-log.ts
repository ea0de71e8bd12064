import { Level } from 'level';
import { assert } from '../common/assert.js';
import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import type { LogStateMachine, LogStatus, ReplicatedLog } from './replicated-log.js';

const ENTRY_PREFIX = 'e:';
const SNAPSHOT_KEY = 's';

interface Pending<Result> {
  data: Uint8Array;
  resolve: (result: Result) => void;
  reject: (err: unknown) => void;
}

/**
 * A log with one member, in LevelDB: every proposal is written with fsync
 * before it is applied. Proposals that arrive while a write is in flight are
 * group-committed in the next batch, so throughput grows with concurrency
 * instead of being bounded by one fsync per entry. A snapshot replaces the
 * log prefix every `snapshotEveryEntries`, so a restart replays little.
 */
export class SingleNodeLog<Result> implements ReplicatedLog<Result> {
  private queue: Pending<Result>[] = [];
  private flushing: Promise<void> | undefined;
  private lastIndex = 0;
  private appliedIndex = 0;
  private snapshotIndex = 0;
  private closed = false;

  private constructor(
    private readonly db: Level<string, Buffer>,
    private readonly stateMachine: LogStateMachine<Result>,
    private readonly options: { snapshotEveryEntries: number; address: () => string; logger: Logger },
  ) {}

  static async open<Result>(
    dir: string,
    stateMachine: LogStateMachine<Result>,
    options: { snapshotEveryEntries: number; address: () => string; logger: Logger },
  ): Promise<SingleNodeLog<Result>> {
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const log = new SingleNodeLog(db, stateMachine, options);
    await log.recover();
    return log;
  }

  private async recover(): Promise<void> {
    const started = Date.now();
    const snapshot = await this.db.get(SNAPSHOT_KEY);
    if (snapshot !== undefined) {
      this.snapshotIndex = Number(snapshot.readBigUInt64BE(0));
      this.stateMachine.restore(snapshot.subarray(8));
      this.appliedIndex = this.lastIndex = this.snapshotIndex;
    }
    let replayed = 0;
    for await (const [key, value] of this.db.iterator({ gt: entryKey(this.snapshotIndex), lt: ENTRY_PREFIX + '~' })) {
      const index = parseInt(key.slice(ENTRY_PREFIX.length), 16);
      assert(index === this.lastIndex + 1, `log gap: expected ${this.lastIndex + 1}, found ${index}`);
      this.stateMachine.apply(value, index);
      this.appliedIndex = this.lastIndex = index;
      replayed++;
    }
    this.options.logger.info(
      { snapshotIndex: this.snapshotIndex, replayed, lastIndex: this.lastIndex, ms: Date.now() - started },
      'log recovered',
    );
  }

  propose(data: Uint8Array): Promise<Result> {
    if (this.closed) return Promise.reject(new DfsError('UNAVAILABLE', 'log is closed'));
    if (this.queue.length >= LIMITS.queuedProposalsMax) {
      return Promise.reject(new DfsError('OVERLOADED', 'too many proposals waiting for the log'));
    }
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const first = this.lastIndex + 1;
      try {
        await this.db.batch(
          batch.map((p, i) => ({ type: 'put' as const, key: entryKey(first + i), value: Buffer.from(p.data) })),
          { sync: true },
        );
      } catch (err) {
        const failure = new DfsError('UNAVAILABLE', 'could not write the log', { cause: err });
        for (const p of batch) p.reject(failure);
        continue;
      }
      this.lastIndex = first + batch.length - 1;
      batch.forEach((p, i) => {
        const result = this.stateMachine.apply(p.data, first + i);
        this.appliedIndex = first + i;
        p.resolve(result);
      });
      if (this.appliedIndex - this.snapshotIndex >= this.options.snapshotEveryEntries) await this.takeSnapshot();
    }
  }

  private async takeSnapshot(): Promise<void> {
    const index = this.appliedIndex;
    const data = this.stateMachine.snapshot();
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(BigInt(index));
    await this.db.put(SNAPSHOT_KEY, Buffer.concat([header, data]), { sync: true });
    this.snapshotIndex = index;
    // Entries covered by the snapshot are dead weight; a crash before this
    // finishes only leaves some for recovery to skip.
    await this.db.clear({ gte: ENTRY_PREFIX, lte: entryKey(index) });
    this.options.logger.info({ index, bytes: data.length }, 'snapshot taken');
  }

  async readBarrier(): Promise<void> {
    // Every proposal is applied before it resolves, so local reads already see
    // every acknowledged write.
  }

  isLeader(): boolean {
    return !this.closed;
  }

  /** A single node leads from the moment it opens and never stops: there is nothing to report. */
  onLeadershipChange(_listener: (leading: boolean) => void): void {}

  status(): LogStatus {
    return {
      role: 'single',
      term: 1,
      commitIndex: this.lastIndex,
      appliedIndex: this.appliedIndex,
      leaderAddress: this.options.address(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.db.close();
  }
}

function entryKey(index: number): string {
  return ENTRY_PREFIX + index.toString(16).padStart(16, '0');
}
