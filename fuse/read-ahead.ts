import { joinParts, partsLength, sliceParts, type ByteParts } from '../common/byte-parts.js';

/** Reads a byte range of a file, as the frames it came in; fewer bytes than asked only at its end. */
export type RangeReader = (offset: number, length: number) => Promise<ByteParts>;

interface Fetched {
  readonly parts: ByteParts;
  readonly length: number;
}

interface Segment {
  readonly offset: number;
  readonly length: number;
  readonly data: Promise<Fetched>;
}

export interface ReadAheadOptions {
  /** Bytes fetched per segment: one large read from the chunkservers. */
  readonly segmentBytes: number;
  /** Segments kept in flight ahead of a sequential reader. */
  readonly segmentsAhead: number;
}

/**
 * Read-ahead for one open file. The kernel asks in pieces of at most 1 MiB
 * (and its own read-ahead stops at max_readahead); a sequential reader is
 * served from large segments fetched ahead of it, so the chunkservers see
 * few big reads in flight instead of many small ones in turn. A read that
 * does not continue the last one is served directly and drops the segments.
 * Memory per reader: at most `segmentsAhead + 1` segments. Segments keep
 * the frames they arrived in; a read that falls within one frame is a view
 * of it, not a copy.
 */
export class ReadAhead {
  private segments: Segment[] = [];
  private lastEnd = -1;
  /** The file's end as a short segment found it: nothing past it is fetched ahead (each such fetch would ask the master for the size). */
  private endSeen: number | undefined;

  constructor(
    private readonly reader: RangeReader,
    private readonly options: ReadAheadOptions,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const sequential = offset === this.lastEnd || this.covers(offset, length);
    this.lastEnd = offset + length;
    // At or past the end seen, the file may have grown since: ask afresh.
    const pastEnd = this.endSeen !== undefined && offset >= this.endSeen;
    if (!sequential || pastEnd) {
      this.segments = [];
      this.endSeen = undefined;
      return this.direct(offset, length);
    }
    this.dropBefore(offset);
    this.fillAhead(offset);
    const parts: Buffer[] = [];
    let pos = offset;
    const end = offset + length;
    for (const segment of this.segments) {
      if (pos >= end) break;
      if (segment.offset + segment.length <= pos) continue;
      if (segment.offset > pos) break;
      let data: Fetched;
      try {
        data = await segment.data;
      } catch {
        // Served directly instead: the direct read retries on its own terms.
        this.segments = [];
        return this.direct(offset, length);
      }
      const from = pos - segment.offset;
      if (from >= data.length) break;
      const to = Math.min(data.length, end - segment.offset);
      parts.push(...sliceParts(data.parts, from, to));
      pos = segment.offset + to;
      // A short segment is the end of the file as it was when fetched.
      if (data.length < segment.length) {
        this.segments = this.segments.filter((s) => s.offset <= segment.offset);
        this.endSeen = segment.offset + data.length;
        break;
      }
    }
    if (pos < end && parts.length === 0) return this.direct(offset, length);
    return joinParts(parts);
  }

  /** A read served from the file, not from segments. */
  private async direct(offset: number, length: number): Promise<Buffer> {
    return joinParts(await this.reader(offset, length));
  }

  /** The file changed under the reader: fetched segments may be stale. */
  invalidate(): void {
    this.segments = [];
    this.endSeen = undefined;
  }

  private covers(offset: number, length: number): boolean {
    const first = this.segments[0];
    const last = this.segments[this.segments.length - 1];
    return first !== undefined && last !== undefined && offset >= first.offset && offset + length <= last.offset + last.length;
  }

  private dropBefore(offset: number): void {
    while (this.segments.length > 0 && this.segments[0]!.offset + this.segments[0]!.length <= offset) this.segments.shift();
  }

  private fillAhead(offset: number): void {
    const { segmentBytes, segmentsAhead } = this.options;
    let next = this.segments.length === 0 ? offset : this.segments[this.segments.length - 1]!.offset + segmentBytes;
    while (this.segments.length <= segmentsAhead && (this.endSeen === undefined || next < this.endSeen)) {
      const data = this.reader(next, segmentBytes).then((parts) => ({ parts, length: partsLength(parts) }));
      // A failed prefetch fails the read that needs it, not the process.
      data.catch(() => undefined);
      this.segments.push({ offset: next, length: segmentBytes, data });
      next += segmentBytes;
    }
  }
}
