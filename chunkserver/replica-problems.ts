import { DfsError } from '../common/errors.js';
import type { ChunkHandle } from '../common/ids.js';
import type { ChunkserverContext } from './chunkserver-context.js';

/**
 * A replica failed its checksums: stop offering it, tell the master (which
 * re-replicates from a good copy), and delete it. Readers have already been
 * told CHECKSUM_MISMATCH and moved to another replica.
 */
export async function handleCorruption(ctx: ChunkserverContext, handle: ChunkHandle): Promise<void> {
  const version = ctx.inventory.version(handle);
  if (version === undefined) return;
  ctx.inventory.withdraw(handle);
  ctx.metrics.corruptReplicas.inc();
  ctx.logger.warn({ handle, version }, 'replica is corrupt; reporting and deleting it');
  try {
    await ctx.master.reportProblem({
      serverId: ctx.self().id,
      handle: String(handle),
      version: String(version),
      problem: 'REPLICA_PROBLEM_CORRUPT',
      failedServerIds: [ctx.self().id],
      leaseReleased: false,
    });
  } catch (err) {
    // The next heartbeat reports the replica removed: the master learns either way.
    ctx.logger.warn({ handle, err: (err as Error).message }, 'could not report a corrupt replica');
  }
  await ctx.chunkLocks.run(handle, async () => {
    await ctx.pipelines.replace(handle, undefined, new DfsError('CHECKSUM_MISMATCH', `replica of chunk ${handle} is corrupt`));
    await ctx.inventory.remove(handle);
  });
}
