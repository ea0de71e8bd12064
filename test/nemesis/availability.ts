/**
 * The longest stretch during which a workload got nothing done: the
 * largest gap between consecutive successes (and from the start to the
 * first, and from the last to the end), as a user waiting on the system
 * would feel it.
 */
export class Availability {
  private last: number;
  private longestMs = 0;
  private longestEndsAt = 0;

  constructor(private readonly now: () => number) {
    this.last = now();
  }

  success(): void {
    const t = this.now();
    this.observe(t);
    this.last = t;
  }

  /** Closes the measurement at the end of the run. */
  finish(): void {
    this.observe(this.now());
    this.last = this.now();
  }

  get longestGapMs(): number {
    return Math.round(this.longestMs);
  }

  /** When the longest gap ended (ms on the run's clock), for the report's detail. */
  get longestGapEndedAtMs(): number {
    return Math.round(this.longestEndsAt);
  }

  private observe(t: number): void {
    if (t - this.last > this.longestMs) {
      this.longestMs = t - this.last;
      this.longestEndsAt = t;
    }
  }
}
