import type { ChunkserverContext } from './chunkserver-context.js';
import { handleCorruption } from './replica-problems.js';

/**
 * Verifies idle replicas in the background, one per tick, round robin, so
 * that a bit flip on a replica nobody reads is found before it is needed.
 */
export class Scrubber {
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly ctx: ChunkserverContext) {}

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.running ??= this.scrubOne().finally(() => (this.running = undefined));
    }, intervalMs);
  }

  private async scrubOne(): Promise<void> {
    const replicas = this.ctx.store.list();
    if (replicas.length === 0) return;
    const { handle } = replicas[this.cursor++ % replicas.length]!;
    if (this.cursor % replicas.length === 0) this.ctx.metrics.scrubPasses.inc();
    // A chunk being written is checked by its writers' reads and by the next round.
    if (this.ctx.pipelines.get(handle) !== undefined) return;
    try {
      const intact = await this.ctx.store.verify(handle);
      this.ctx.metrics.scrubbedReplicas.inc();
      if (!intact) {
        this.ctx.logger.warn({ handle }, 'scrubber found a corrupt replica');
        await handleCorruption(this.ctx, handle);
      }
    } catch (err) {
      this.ctx.logger.warn({ handle, err: (err as Error).message }, 'scrub failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
  }
}
