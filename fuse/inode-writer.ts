import type { DfsFile } from '../client-lib/dfs-file.js';
import type { BufferPool } from '../common/buffer-pool.js';

export interface InodeWriterOptions {
  /** Contiguous writes are gathered up to this many bytes before they go out (one data packet). */
  readonly gatherBytes: number;
  /** Bytes handed to the chunk pipelines but not yet durable before a write waits. */
  readonly inFlightMaxBytes: number;
  readonly now: () => number;
  /** Where gather buffers come from and go back to once their bytes are in packets (buffers of `gatherBytes`). */
  readonly buffers: BufferPool;
}

interface Gathered {
  offset: number;
  length: number;
  buffer: Buffer;
}

/**
 * Write-back for one inode on this mount. The kernel's writes return as soon
 * as their bytes are copied here; contiguous ones are gathered into whole
 * data packets and pipelined to the chunkservers in order. `sync()` (close,
 * fsync) waits until every replica has them durable and the master has the
 * new size. A failure in the background is kept and thrown by the next
 * write or sync, as a local file system reports a failed write-back at close
 * or fsync.
 */
export class InodeWriter {
  private gathered: Gathered | undefined;
  /** Submissions to the pipelines, in order: each waits for the one before. */
  private tail: Promise<void> = Promise.resolve();
  private inFlightBytes = 0;
  private failure: unknown;
  /** The end of the bytes written through this mount that the master may not know yet. */
  private dirtyEnd = 0;
  private lastWriteMs = 0;

  constructor(
    readonly file: DfsFile,
    private readonly options: InodeWriterOptions,
  ) {}

  /** Whether bytes written here may not be durable or not yet counted in the master's size. */
  get dirty(): boolean {
    return this.dirtyEnd > 0;
  }

  /** The size and times to report while dirty: the kernel's view must not shrink back, and a write changes mtime and ctime at once. */
  overlay(size: number, mtimeMs: number, ctimeMs: number): { size: number; mtimeMs: number; ctimeMs: number } {
    if (!this.dirty) return { size, mtimeMs, ctimeMs };
    return { size: Math.max(size, this.dirtyEnd), mtimeMs: Math.max(mtimeMs, this.lastWriteMs), ctimeMs: Math.max(ctimeMs, this.lastWriteMs) };
  }

  async write(offset: number, data: Buffer): Promise<number> {
    this.throwFailure();
    const g = this.gathered;
    if (g !== undefined && g.offset + g.length === offset && g.length + data.length <= g.buffer.length) {
      data.copy(g.buffer, g.length);
      g.length += data.length;
    } else {
      this.submitGathered();
      const buffer = data.length <= this.options.gatherBytes ? this.options.buffers.take() : Buffer.allocUnsafe(data.length);
      data.copy(buffer, 0);
      this.gathered = { offset, length: data.length, buffer };
    }
    this.dirtyEnd = Math.max(this.dirtyEnd, offset + data.length);
    this.lastWriteMs = this.options.now();
    if (this.gathered!.length >= this.options.gatherBytes) this.submitGathered();
    while (this.inFlightBytes > this.options.inFlightMaxBytes && this.failure === undefined) await this.tail;
    this.throwFailure();
    return data.length;
  }

  /** Everything written so far durable on every replica and counted in the master's size. */
  async sync(): Promise<void> {
    this.submitGathered();
    await this.tail;
    this.throwFailure();
    if (this.dirtyEnd === 0) return;
    const end = this.dirtyEnd;
    try {
      await this.file.commitData(end, this.lastWriteMs);
    } catch (err) {
      this.dirtyEnd = 0;
      throw err;
    }
    if (this.dirtyEnd === end) this.dirtyEnd = 0;
  }

  /** A truncate: what is buffered goes out first, then nothing past `size` is dirty. */
  async truncate(size: number): Promise<void> {
    await this.sync();
    await this.file.truncate(size);
  }

  private submitGathered(): void {
    const g = this.gathered;
    if (g === undefined) return;
    this.gathered = undefined;
    const bytes = g.length;
    this.inFlightBytes += bytes;
    this.tail = this.tail.then(async () => {
      try {
        if (this.failure === undefined) await this.file.writeQueued(g.offset, g.buffer.subarray(0, g.length));
      } catch (err) {
        this.failure ??= err;
      } finally {
        this.inFlightBytes -= bytes;
        // writeQueued has copied the bytes into packets (or given up on them): the buffer is free.
        this.options.buffers.give(g.buffer);
      }
    });
  }

  private throwFailure(): void {
    if (this.failure === undefined) return;
    const err = this.failure;
    // Reported once, as Linux reports a write-back error once per file.
    this.failure = undefined;
    this.dirtyEnd = 0;
    throw err;
  }
}
