import { DfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { unary } from '../common/grpc-server.js';
import { requireAddress, requireId, requireInteger } from '../common/wire-validation.js';
import type { RaftGroupStatus } from '../raft/index.js';
import type { RaftStatusResponse } from '../proto/generated/dfs/master/RaftStatusResponse.js';
import type { AdminHandlers } from '../proto/generated/dfs/master/Admin.js';
import { leaderClusterView } from './cluster-view-source.js';
import type { MasterContext } from './master-context.js';
import { fsckPage } from './fsck.js';
import { DISTRIBUTION_ROWS_DEFAULT, distributionStatus } from './distribution-status.js';
import { rebalancePlanToWire, rebalanceStatusToWire } from './movement-wire.js';
import { allNodes, nodeStatus, resolveNode, setNodeState } from './node-admin.js';
import { nodeStateFromWire } from './node-states.js';
import { requirePath } from './request-validation.js';
import { LIMITS } from '../common/limits.js';

const DEFAULT_THRESHOLD_PCT = 10;
const DEFAULT_MAX_CONCURRENT_MOVES = 4;
const MAX_CONCURRENT_MOVES = 64;

/** Operator RPCs: what the cluster looks like right now, and changes to the set of masters. */
export function adminHandlers(ctx: MasterContext): AdminHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in an admin handler');
  return {
    DistributionStatus: unary(async (req) => {
      const leader = ctx.leader();
      requirePath(req.path);
      const rows = req.maxNodes === 0 ? DISTRIBUTION_ROWS_DEFAULT : Math.min(req.maxNodes, LIMITS.distributionStatusRowsMax);
      await ctx.log.readBarrier();
      return distributionStatus(ctx.state(), leader, req.path, rows, Math.floor(ctx.clock.wallUs() / 1000));
    }, onInternal),
    ListChunkservers: unary(async () => {
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      return { servers: allNodes(ctx, leader) };
    }, onInternal),

    Fsck: unary(async (req) => {
      const leader = ctx.leader();
      const path = req.path === '' ? '/' : req.path;
      requirePath(path);
      const maxItems = req.maxItems === 0 ? LIMITS.fsckItemsPerPageMax : Math.min(req.maxItems, LIMITS.fsckItemsPerPageMax);
      await ctx.log.readBarrier();
      return fsckPage(ctx.state(), leader, path, req.cursor, maxItems);
    }, onInternal),

    SetNodeState: unary(async (req) => {
      const leader = ctx.leader();
      const state = nodeStateFromWire(req.state);
      if (state === undefined) throw new DfsError('INVALID_ARGUMENT', `state ${String(req.state)} is not a node state`);
      await ctx.log.readBarrier();
      const server = resolveNode(ctx, leader, req.node);
      await setNodeState(ctx, leader, server, state);
      return nodeStatus(ctx, ctx.leader(), server);
    }, onInternal),

    Rebalance: unary(async (req) => {
      const leader = ctx.leader();
      const thresholdPct = req.thresholdPct === 0 ? DEFAULT_THRESHOLD_PCT : req.thresholdPct;
      if (!(thresholdPct > 0 && thresholdPct < 100)) throw new DfsError('INVALID_ARGUMENT', `threshold ${req.thresholdPct}% must be between 0 and 100`);
      const maxConcurrent = req.maxConcurrent === 0 ? DEFAULT_MAX_CONCURRENT_MOVES : req.maxConcurrent;
      if (maxConcurrent > MAX_CONCURRENT_MOVES) throw new DfsError('INVALID_ARGUMENT', `max concurrent moves ${maxConcurrent} is above ${MAX_CONCURRENT_MOVES}`);
      await ctx.log.readBarrier();
      const plan = req.dryRun
        ? leader.rebalancer.plan(thresholdPct)
        : leader.rebalancer.start({ thresholdPct, maxConcurrent, background: false });
      return rebalancePlanToWire(leader, plan, rebalanceStatusToWire(leader.rebalancer.progress(), ctx.clock.nowMs()));
    }, onInternal),

    RebalanceStatus: unary(async () => {
      const leader = ctx.leader();
      return rebalanceStatusToWire(leader.rebalancer.progress(), ctx.clock.nowMs());
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

    ClusterView: unary(async (req) => {
      const request = { path: req.filePath, firstChunk: requireInteger(req.firstChunk, 'first_chunk') };
      return { json: JSON.stringify(leaderClusterView(ctx, request)) };
    }, onInternal),

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
