import { backoffDelayMs, sleep, type BackoffPolicy } from '../common/backoff.js';
import { DfsError, isDfsError } from '../common/errors.js';

/**
 * Runs `attempt` until it succeeds, a non-retryable error occurs, or the
 * policy's deadline passes. Retryability is the error's own property.
 * `onRetry` lets the caller refresh what the failure invalidated.
 */
export async function withRetry<T>(
  policy: BackoffPolicy,
  random: () => number,
  attempt: (n: number) => Promise<T>,
  onRetry?: (err: DfsError, n: number) => void | Promise<void>,
): Promise<T> {
  const deadline = Date.now() + policy.deadlineMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isDfsError(err) || !err.retryable) throw err;
      if (Date.now() >= deadline) {
        throw new DfsError(err.code === 'NOT_LEADER' ? 'UNAVAILABLE' : err.code, `gave up after ${n + 1} attempts: ${err.message}`, {
          cause: err,
          details: err.details,
        });
      }
      await onRetry?.(err, n);
      await sleep(Math.min(backoffDelayMs(n, policy, random), Math.max(0, deadline - Date.now())));
    }
  }
}
