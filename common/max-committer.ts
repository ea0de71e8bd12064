/**
 * Coalesces commits of a growing number (a file's size, a chunk's length):
 * many writers finishing together cost one round trip, which carries the
 * largest value among them. At most one commit is in flight.
 */
export class MaxCommitter {
  private committed: number;
  private wanted: number;
  private running: Promise<void> | undefined;
  private waiters: { end: number; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    initialSize: number,
    private readonly commit: (endOffset: number) => Promise<number>,
  ) {
    this.committed = initialSize;
    this.wanted = initialSize;
  }

  /** Resolves once a commit of at least `end` has succeeded. */
  ensure(end: number): Promise<void> {
    if (end <= this.committed) return Promise.resolve();
    this.wanted = Math.max(this.wanted, end);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ end, resolve, reject }));
    this.running ??= this.loop().finally(() => (this.running = undefined));
    return done;
  }

  /** The value shrank (a truncation): smaller values must be committed again. */
  reset(size: number): void {
    this.committed = size;
    this.wanted = Math.max(size, ...this.waiters.map((w) => w.end));
  }

  /** A value learned elsewhere (another writer grew the file). */
  observe(size: number): void {
    this.committed = Math.max(this.committed, size);
  }

  private async loop(): Promise<void> {
    while (this.wanted > this.committed) {
      const target = this.wanted;
      try {
        this.committed = Math.max(this.committed, await this.commit(target), target);
      } catch (err) {
        const failed = this.waiters.filter((w) => w.end <= target);
        this.waiters = this.waiters.filter((w) => w.end > target);
        for (const w of failed) w.reject(err);
        this.wanted = Math.max(this.committed, ...this.waiters.map((w) => w.end));
        continue;
      }
      const done = this.waiters.filter((w) => w.end <= this.committed);
      this.waiters = this.waiters.filter((w) => w.end > this.committed);
      for (const w of done) w.resolve();
    }
  }
}
