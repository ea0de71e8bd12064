import cliProgress from 'cli-progress';
import { sleep } from '../common/backoff.js';

/** One look at a long operation: how far it is, and whether it is over. */
export interface ProgressSample {
  done: boolean;
  value: number;
  total: number;
  /** Shown after the bar: what the numbers count. */
  detail: string;
}

const POLL_INTERVAL_MS = 500;

/**
 * Polls `sample` until it says done, drawing a bar with an ETA on stderr
 * unless `quiet` (--json, or stderr is not a terminal). Returns the last sample.
 */
export async function waitWithProgress(sample: () => Promise<ProgressSample>, quiet: boolean): Promise<ProgressSample> {
  const show = !quiet && process.stderr.isTTY === true;
  const bar = show
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {value}/{total} {detail} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let last = await sample();
  bar?.start(Math.max(last.total, 1), last.value, { detail: last.detail });
  try {
    while (!last.done) {
      await sleep(POLL_INTERVAL_MS);
      last = await sample();
      bar?.setTotal(Math.max(last.total, 1));
      bar?.update(last.value, { detail: last.detail });
    }
  } finally {
    bar?.stop();
  }
  return last;
}
