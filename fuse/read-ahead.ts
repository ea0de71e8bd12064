/** Reads a byte range of a file; fewer bytes than asked only at its end. */
export type RangeReader = (offset: number, length: number) => Promise<Buffer>;

interface Segment {
  readonly offset: number;
  readonly length: number;
  readonly data: Promise<Buffer>;
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
 * Memory per reader: at most `segmentsAhead + 1` segments.
 */
export class ReadAhead {
  private segments: Segment[] = [];
  private lastEnd = -1;

  constructor(
    private readonly reader: RangeReader,
    private readonly options: ReadAheadOptions,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const sequential = offset === this.lastEnd || this.covers(offset, length);
    this.lastEnd = offset + length;
    if (!sequential) {
      this.segments = [];
      return this.reader(offset, length);
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
      let data: Buffer;
      try {
        data = await segment.data;
      } catch {
        // Served directly instead: the direct read retries on its own terms.
        this.segments = [];
        return this.reader(offset, length);
      }
      const from = pos - segment.offset;
      if (from >= data.length) break;
      const to = Math.min(data.length, end - segment.offset);
      parts.push(data.subarray(from, to));
      pos = segment.offset + to;
      // A short segment is the end of the file as it was when fetched.
      if (data.length < segment.length) {
        this.segments = this.segments.filter((s) => s.offset <= segment.offset);
        break;
      }
    }
    if (pos < end && parts.length === 0) return this.reader(offset, length);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** The file changed under the reader: fetched segments may be stale. */
  invalidate(): void {
    this.segments = [];
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
    while (this.segments.length <= segmentsAhead) {
      const data = this.reader(next, segmentBytes);
      // A failed prefetch fails the read that needs it, not the process.
      data.catch(() => undefined);
      this.segments.push({ offset: next, length: segmentBytes, data });
      next += segmentBytes;
    }
  }
}
