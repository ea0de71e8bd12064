/**
 * Exponential backoff with full jitter. The random source is passed in so that
 * callers in deterministic code can make it reproducible.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Give up after this long in total. */
  deadlineMs: number;
}

/**
 * Retries start at 10 ms and back off to at most half a second: a client
 * waiting out a leader election (about a second) keeps asking often enough
 * to notice the new leader within a few hundred milliseconds.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 10, maxMs: 500, deadlineMs: 30_000 };

export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
