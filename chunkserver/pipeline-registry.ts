import type { DfsError } from '../common/errors.js';
import type { ChunkHandle } from '../common/ids.js';
import type { PrimaryChunk } from './primary-chunk.js';
import type { ReplicaPipeline } from './replica-pipeline.js';

interface Entry {
  pipeline: ReplicaPipeline;
  /** Set on the primary: the lease and the append sequencer. */
  primary: PrimaryChunk | undefined;
}

/**
 * The one active pipeline per chunk on this server. A new version (a new
 * lease) or a deletion closes the old pipeline first, and waits until none
 * of its writes can still reach the store.
 */
export class PipelineRegistry {
  private readonly entries = new Map<ChunkHandle, Entry>();

  get(handle: ChunkHandle): ReplicaPipeline | undefined {
    return this.entries.get(handle)?.pipeline;
  }

  primary(handle: ChunkHandle): PrimaryChunk | undefined {
    return this.entries.get(handle)?.primary;
  }

  primaries(): PrimaryChunk[] {
    return [...this.entries.values()].flatMap((e) => (e.primary ? [e.primary] : []));
  }

  /** Closes whatever runs for the chunk, then installs `next` (if any). */
  async replace(handle: ChunkHandle, next: Entry | undefined, reason: DfsError): Promise<void> {
    const current = this.entries.get(handle);
    if (next === undefined) this.entries.delete(handle);
    else this.entries.set(handle, next);
    if (current?.primary !== next?.primary) current?.primary?.close();
    if (current !== undefined && current.pipeline !== next?.pipeline) await current.pipeline.close(reason);
  }

  /** Removes the entry only if it still holds `pipeline` (a newer one may have replaced it). */
  async retire(handle: ChunkHandle, pipeline: ReplicaPipeline, reason: DfsError): Promise<void> {
    const entry = this.entries.get(handle);
    if (entry?.pipeline === pipeline) {
      this.entries.delete(handle);
      entry.primary?.close();
    }
    await pipeline.close(reason);
  }

  async closeAll(reason: DfsError): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) e.primary?.close();
    await Promise.allSettled(all.map((e) => e.pipeline.close(reason)));
  }
}
