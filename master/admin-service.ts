import { unary } from '../common/grpc-server.js';
import type { AdminHandlers } from '../proto/generated/dfs/master/Admin.js';
import { serverRef } from './lease-manager.js';
import type { MasterContext } from './master-context.js';
import type { ReplicationManager } from './replication-manager.js';

/** Operator RPCs: what the cluster looks like right now. */
export function adminHandlers(ctx: MasterContext, replication: ReplicationManager): AdminHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in an admin handler');
  return {
    ListChunkservers: unary(async () => {
      await ctx.log.readBarrier();
      const now = ctx.clock.nowMs();
      return {
        servers: ctx.registry.all().map((s) => ({
          server: serverRef(s),
          alive: s.alive,
          capacityBytes: String(s.capacityBytes),
          usedBytes: String(s.usedBytes),
          chunkCount: String(s.chunkCount),
          lastHeartbeatMsAgo: String(Math.max(0, Math.floor(now - s.lastHeartbeatMs))),
          load: s.load,
        })),
      };
    }, onInternal),

    ClusterHealth: unary(async () => {
      await ctx.log.readBarrier();
      const counts = ctx.state().counts();
      const stats = replication.stats();
      return {
        liveChunkservers: ctx.registry.live().length,
        files: String(counts.files),
        chunks: String(counts.chunks),
        underReplicatedChunks: String(stats.underReplicated),
        missingChunks: String(stats.missing),
        copiesInFlight: stats.copiesInFlight,
        acceptingLeases: ctx.leases.acceptingGrants(ctx.clock.nowMs()),
      };
    }, onInternal),
  };
}
