import { DfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { unary } from '../common/grpc-server.js';
import { requireAddress, requireId } from '../common/wire-validation.js';
import type { RaftGroupStatus } from '../raft/index.js';
import type { RaftStatusResponse } from '../proto/generated/dfs/master/RaftStatusResponse.js';
import type { AdminHandlers } from '../proto/generated/dfs/master/Admin.js';
import { serverRef } from './lease-manager.js';
import type { MasterContext } from './master-context.js';

/** Operator RPCs: what the cluster looks like right now, and changes to the set of masters. */
export function adminHandlers(ctx: MasterContext): AdminHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in an admin handler');
  return {
    ListChunkservers: unary(async () => {
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      const now = ctx.clock.nowMs();
      return {
        servers: leader.registry.all().map((s) => ({
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
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      const counts = ctx.state().counts();
      const stats = leader.replication.stats();
      return {
        liveChunkservers: leader.registry.live().length,
        files: String(counts.files),
        chunks: String(counts.chunks),
        underReplicatedChunks: String(stats.underReplicated),
        missingChunks: String(stats.missing),
        copiesInFlight: stats.copiesInFlight,
        acceptingLeases: leader.leases.acceptingGrants(ctx.clock.nowMs()),
      };
    }, onInternal),

    RaftStatus: unary(async () => toWireRaftStatus(ctx.log.raftStatus()), onInternal),

    AddMaster: unary(async (req) => {
      ctx.leader();
      const address = requireAddress(req.address, 'address');
      // The new master started with --join knows its own id and nothing else.
      const joining = await callUnary(ctx.masters.get(address), 'RaftStatus', {}, 5_000);
      const id = requireId(joining.id, 'id');
      if (joining.members.length > 0 && !joining.members.some((m) => m.id === id)) {
        throw new DfsError('INVALID_ARGUMENT', `${address} already belongs to another group`);
      }
      ctx.logger.info({ id, address }, 'adding a master');
      await ctx.log.addMember(id, address);
      return toWireRaftStatus(ctx.log.raftStatus());
    }, onInternal),

    RemoveMaster: unary(async (req) => {
      ctx.leader();
      const id = requireId(req.id, 'id');
      if (!ctx.log.raftStatus().members.some((m) => m.id === id)) throw new DfsError('NOT_FOUND', `no master ${id}`);
      ctx.logger.info({ id }, 'removing a master');
      await ctx.log.removeMember(id);
      return toWireRaftStatus(ctx.log.raftStatus());
    }, onInternal),

    TransferLeadership: unary(async (req) => {
      ctx.leader();
      const id = requireId(req.id, 'id');
      if (!ctx.log.raftStatus().members.some((m) => m.id === id && m.role === 'voter')) {
        throw new DfsError('NOT_FOUND', `no voting master ${id}`);
      }
      await ctx.log.transferLeadership(id);
      return toWireRaftStatus(ctx.log.raftStatus());
    }, onInternal),
  };
}

function toWireRaftStatus(s: RaftGroupStatus): RaftStatusResponse {
  return {
    id: s.id,
    address: s.address,
    role: s.role,
    term: String(s.term),
    leaderId: s.leader?.id ?? '',
    leaderAddress: s.leader?.address ?? '',
    commit: String(s.commit),
    applied: String(s.applied),
    members: s.members.map((m) => ({ id: m.id, address: m.address ?? '', role: m.role, match: String(m.match ?? 0) })),
  };
}
