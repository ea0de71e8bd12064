import { recordKey, type RecordId } from './records.js';

export interface Acknowledged {
  readonly id: RecordId;
  /** The file offset the append answered with. */
  readonly offset: number;
  readonly length: number;
  readonly ackAtMs: number;
}

/**
 * What the appenders did, as a user would log it: every record they sent,
 * the ones acknowledged (with the offset the system gave), and the ones
 * whose append failed (outcome unknown: the record may or may not be in the
 * file, but at most once). Readers consult it to tell a written record from
 * an invented one.
 */
export class AppendLog {
  private readonly attemptedUpTo = new Map<number, number>();
  readonly acknowledged = new Map<string, Acknowledged>();
  readonly failed = new Map<string, string>();

  attempt(id: RecordId): void {
    const top = this.attemptedUpTo.get(id.writer) ?? -1;
    if (id.seq !== top + 1) throw new Error(`writer ${id.writer} sent seq ${id.seq} after ${top}: a writer sends its records in order`);
    this.attemptedUpTo.set(id.writer, id.seq);
  }

  acknowledge(ack: Acknowledged): void {
    this.acknowledged.set(recordKey(ack.id), ack);
  }

  fail(id: RecordId, code: string): void {
    this.failed.set(recordKey(id), code);
  }

  /** Whether (writer, seq) was ever sent: anything else in the file was never written. */
  wasSent(id: RecordId): boolean {
    return id.seq <= (this.attemptedUpTo.get(id.writer) ?? -1);
  }

  get attempts(): number {
    let n = 0;
    for (const top of this.attemptedUpTo.values()) n += top + 1;
    return n;
  }
}
