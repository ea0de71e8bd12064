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

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 20, maxMs: 1_000, deadlineMs: 30_000 };

export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
