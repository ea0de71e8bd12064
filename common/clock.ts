/**
 * Time as the I/O layers see it. Pure logic never reads a clock: it receives
 * these values as arguments.
 */
export interface Clock {
  /** Monotonic milliseconds: for durations, timeouts and leases on one host. */
  nowMs(): number;
  /** Wall-clock microseconds since the epoch: for file times in log entries. */
  wallUs(): number;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallUs: () => Date.now() * 1000,
};
