import { isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { buildChunkMap, type ChunkMapRequest } from './chunk-map.js';
import { buildLeaderView, buildRaftView, type ClusterView } from './cluster-view.js';
import type { MasterContext } from './master-context.js';

/** A follower waits this long for the leader's view before showing what it knows itself. */
const RELAY_TIMEOUT_MS = 3_000;

/** The view built from this master's leader state. Throws NOT_LEADER on a follower. */
export function leaderClusterView(ctx: MasterContext, request: ChunkMapRequest): ClusterView {
  const leader = ctx.leader();
  const state = ctx.state();
  const nowMs = ctx.clock.nowMs();
  const status = ctx.log.raftStatus();
  return {
    generatedAtMs: Math.floor(ctx.clock.wallUs() / 1000),
    servedBy: { address: ctx.address, role: 'leader', relayedFrom: null },
    leader: { id: status.id, address: ctx.address },
    unavailable: null,
    raft: buildRaftView(status),
    cluster: buildLeaderView({
      nowMs,
      config: state.config(),
      counts: state.counts(),
      servers: leader.registry.all(),
      replication: leader.replication.stats(),
      movement: leader.movementStatus(),
      adminState: (server) => leader.nodeState(server),
      acceptingLeases: leader.leases.acceptingGrants(nowMs),
      chunkMap: buildChunkMap(state, leader, request, nowMs),
    }),
  };
}

/**
 * The view any master serves: its own while it leads, else the leader's
 * fetched over the Admin ClusterView RPC and marked as relayed; when no
 * leader is known or it does not answer, what this master knows (the Raft
 * group as it sees it) and why there is no more.
 */
export async function servedClusterView(ctx: MasterContext, request: ChunkMapRequest): Promise<ClusterView> {
  try {
    return leaderClusterView(ctx, request);
  } catch (err) {
    if (!isDfsError(err, 'NOT_LEADER')) throw err;
  }
  const status = ctx.log.raftStatus();
  const leader = status.leader?.address ? { id: status.leader.id, address: status.leader.address } : null;
  const ownView = (unavailable: string): ClusterView => ({
    generatedAtMs: Math.floor(ctx.clock.wallUs() / 1000),
    servedBy: { address: ctx.address, role: leader?.address === ctx.address ? 'leader' : 'follower', relayedFrom: null },
    leader,
    unavailable,
    raft: buildRaftView(status),
    cluster: null,
  });
  if (leader === null) return ownView('no leader is known: an election is under way, or a majority of the masters is unreachable');
  if (leader.address === ctx.address) return ownView('this master was just elected and is taking over as leader');
  try {
    const response = await callUnary(
      ctx.masters.get(leader.address),
      'ClusterView',
      { filePath: request.path, firstChunk: String(request.firstChunk) },
      RELAY_TIMEOUT_MS,
    );
    const view = JSON.parse(response.json) as ClusterView;
    return { ...view, servedBy: { address: ctx.address, role: 'follower', relayedFrom: leader.address } };
  } catch (err) {
    if (!isDfsError(err)) throw err;
    return ownView(`the leader ${leader.address} did not answer: ${err.message}`);
  }
}
