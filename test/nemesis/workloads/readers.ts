import type { DfsClient, DfsFile } from '../../../client-lib/index.js';
import type { Prng } from '../../sim/prng.js';
import type { Availability } from '../availability.js';
import type { AppendLog } from './append-log.js';
import { recordKey, scanRecords } from './records.js';
import { ErrorCounts, Loop, type Workload } from './workload.js';

/** A read whose bytes were not what was written: the finding the suite exists for. */
export interface CorruptRead {
  readonly reader: number;
  readonly atMs: number;
  readonly fileOffset: number;
  readonly reason: string;
}

/**
 * Readers that verify every byte they read. Each follows the file's tail
 * chunk by chunk and now and then rereads an older chunk (where a corrupted
 * replica waits to be found). A chunk is read from its start, so the scan
 * starts on a record boundary: every non-zero byte must belong to a record
 * some writer sent, byte for byte.
 */
export class Readers implements Workload {
  readonly name = 'read';
  readonly errors = new ErrorCounts();
  readonly corrupt: CorruptRead[] = [];
  operations = 0;
  recordsVerified = 0;
  /** Prefixes of records cut short (a failed append's remains, or a read racing one): reported, allowed. */
  tornRecords = 0;
  /** Records acknowledged before a read began, in its range, but absent from what it returned. */
  staleReads = 0;
  private readonly loops: Loop[];

  constructor(
    clients: readonly DfsClient[],
    private readonly path: string,
    private readonly chunkSizeBytes: number,
    private readonly log: AppendLog,
    private readonly availability: Availability,
    private readonly now: () => number,
    rng: Prng,
    paceMs: number,
  ) {
    this.loops = clients.map((client, reader) => {
      const random = rng.fork();
      let file: DfsFile | undefined;
      let tailChunk = 0;
      return new Loop(async () => {
        this.operations++;
        try {
          file ??= await client.open(this.path);
          const size = (await file.refresh()).size;
          const complete = Math.floor(size / this.chunkSizeBytes);
          const rereading = complete > 0 && random.chance(0.3);
          const index = rereading ? random.int(0, complete - 1) : Math.min(tailChunk, complete);
          const start = index * this.chunkSizeBytes;
          const end = Math.min(start + this.chunkSizeBytes, size);
          if (end <= start) return;
          const calledAt = this.now();
          const data = await file.read(start, end - start);
          this.verify(reader, start, data, calledAt);
          this.availability.success();
          if (!rereading && end === start + this.chunkSizeBytes) tailChunk = index + 1;
        } catch (err) {
          this.errors.add(err);
        }
      }, paceMs);
    });
  }

  private verify(reader: number, start: number, data: Buffer, calledAtMs: number): void {
    const seen = new Set<string>();
    for (const item of scanRecords(data)) {
      const at = start + item.offset;
      if (item.kind === 'garbage') {
        this.corrupt.push({ reader, atMs: this.now(), fileOffset: at, reason: item.reason });
      } else if (item.kind === 'torn') {
        if (item.id.writer >= 0 && !this.log.wasSent(item.id)) {
          this.corrupt.push({ reader, atMs: this.now(), fileOffset: at, reason: `part of record ${recordKey(item.id)}, which was never sent` });
        } else this.tornRecords++;
      } else if (!this.log.wasSent(item.id)) {
        this.corrupt.push({ reader, atMs: this.now(), fileOffset: at, reason: `record ${recordKey(item.id)}, which was never sent` });
      } else {
        this.recordsVerified++;
        seen.add(`${recordKey(item.id)}@${at}`);
      }
    }
    const end = start + data.length;
    for (const ack of this.log.acknowledged.values()) {
      if (ack.ackAtMs < calledAtMs && ack.offset >= start && ack.offset + ack.length <= end && !seen.has(`${recordKey(ack.id)}@${ack.offset}`)) this.staleReads++;
    }
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }
}
