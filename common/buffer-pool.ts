/**
 * Buffers of one size, kept for reuse. Every fresh large buffer is memory
 * outside the V8 heap, and V8 answers a stream of them with full
 * collections: reusing a few keeps a process that moves bytes from
 * collecting all the time. Only buffers of exactly the pool's size are
 * kept, and at most `keepMax` of them.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly bufferBytes: number,
    private readonly keepMax: number,
  ) {}

  /** A buffer of `bufferBytes` with arbitrary contents. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Hands a buffer back; the caller must hold no other reference to it, nor any view of it. */
  give(buffer: Buffer): void {
    if (buffer.length !== this.bufferBytes || buffer.byteOffset !== 0 || this.free.length >= this.keepMax) return;
    if (this.free.includes(buffer)) throw new Error('a buffer was handed back to its pool twice');
    this.free.push(buffer);
  }

  /** Buffers waiting to be taken. */
  get idle(): number {
    return this.free.length;
  }
}
