import type { DfsClient, DfsFile } from '../../../client-lib/index.js';
import type { Availability } from '../availability.js';
import type { AppendLog } from './append-log.js';
import { encodeRecord } from './records.js';
import { ErrorCounts, Loop, type Workload } from './workload.js';

/**
 * Concurrent record appenders on one file. Each writer sends its records in
 * sequence, one at a time, and logs the outcome: acknowledged (with the
 * offset the system answered) or failed. A failed record is never sent
 * again under the same (writer, seq): a user's retry would be a new record,
 * so a record found twice is always the system's duplicate.
 */
export class Appenders implements Workload {
  readonly name = 'append';
  readonly errors = new ErrorCounts();
  operations = 0;
  private readonly loops: Loop[];

  constructor(
    clients: readonly DfsClient[],
    private readonly path: string,
    private readonly log: AppendLog,
    private readonly availability: Availability,
    private readonly now: () => number,
    paceMs: number,
    /** Writer ids start here, so that several runs' records never look alike. */
    firstWriter = 0,
  ) {
    this.loops = clients.map((client, i) => {
      const writer = firstWriter + i;
      let seq = 0;
      let file: DfsFile | undefined;
      return new Loop(async () => {
        const id = { writer, seq: seq++ };
        const record = encodeRecord(id.writer, id.seq);
        this.log.attempt(id);
        this.operations++;
        try {
          file ??= await client.open(this.path);
          const offset = await file.append(record);
          this.log.acknowledge({ id, offset, length: record.length, ackAtMs: this.now() });
          this.availability.success();
        } catch (err) {
          this.log.fail(id, this.errors.add(err));
        }
      }, paceMs);
    });
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }
}
