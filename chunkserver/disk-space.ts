import { statfs } from 'node:fs/promises';
import type { Logger } from '../common/logger.js';

/** How often the file system's free space is sampled. */
const POLL_MS = 1_000;
/** Reserve when none is configured: 5% of the file system, at most 1 GiB. */
const DEFAULT_RESERVE_FRACTION = 0.05;
const DEFAULT_RESERVE_MAX_BYTES = 1024 ** 3;

/**
 * The free space of the file system holding the data directory, less a
 * reserve for LevelDB, logs and whatever else shares it. The store refuses
 * growth past it with NO_SPACE instead of meeting ENOSPC mid-write, which
 * leaves a replica's state unknown (it is then marked corrupt). Between two
 * samples the growth the store booked is subtracted, so a burst of writes
 * cannot run past the last sample.
 */
export class DiskSpace {
  private free: number;
  private bookedSinceSample = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  private constructor(
    private readonly dir: string,
    readonly reserveBytes: number,
    free: number,
    private readonly logger: Logger,
  ) {
    this.free = free;
  }

  /** `reserveBytes` undefined: the default reserve for this file system. */
  static async open(dir: string, reserveBytes: number | undefined, logger: Logger): Promise<DiskSpace> {
    const stats = await statfs(dir);
    const total = stats.blocks * stats.bsize;
    const reserve = reserveBytes ?? Math.min(DEFAULT_RESERVE_MAX_BYTES, Math.floor(total * DEFAULT_RESERVE_FRACTION));
    const space = new DiskSpace(dir, reserve, stats.bavail * stats.bsize, logger);
    space.timer = setInterval(() => void space.sample(), POLL_MS);
    space.timer.unref();
    return space;
  }

  /** Bytes chunks may still grow by. */
  available(): number {
    return Math.max(0, this.free - this.reserveBytes - this.bookedSinceSample);
  }

  book(bytes: number): void {
    if (bytes > 0) this.bookedSinceSample += bytes;
  }

  /** Samples now (after an ENOSPC, say); concurrent calls share one statfs. */
  sample(): Promise<void> {
    this.sampling ??= statfs(this.dir)
      .then((stats) => {
        this.free = stats.bavail * stats.bsize;
        this.bookedSinceSample = 0;
      })
      .catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'statfs of the data directory failed'))
      .finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
