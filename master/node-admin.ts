import { DfsError } from '../common/errors.js';
import { serverId, type ServerId } from '../common/ids.js';
import type { ChunkserverStatus } from '../proto/generated/dfs/master/ChunkserverStatus.js';
import type { LeaderState } from './leader-state.js';
import { serverRef } from './lease-manager.js';
import type { MasterContext } from './master-context.js';
import { isValidServerId, type NodeAdminState, nodeStateToWire } from './node-states.js';

/**
 * A chunkserver named by id or by address: one this leader has heard from,
 * or one with a recorded admin state. NOT_FOUND otherwise.
 */
export function resolveNode(ctx: MasterContext, leader: LeaderState, node: string): ServerId {
  if (node === '') throw new DfsError('INVALID_ARGUMENT', 'node is required: a server id or its address');
  const byAddress = leader.registry.all().filter((s) => s.address === node);
  if (byAddress.length === 1) return byAddress[0]!.id;
  if (byAddress.length > 1) throw new DfsError('INVALID_ARGUMENT', `${node} is the address of ${byAddress.length} servers: name one by id`);
  if (isValidServerId(node)) {
    const id = serverId(node);
    if (leader.registry.get(id) !== undefined || ctx.state().nodeState(id) !== 'active') return id;
  }
  throw new DfsError('NOT_FOUND', `no chunkserver ${node} (give a registered server's id or address)`);
}

/**
 * Records an operator's decision about a server through the log, then acts
 * on it: a server leaving maintenance while down is dead now (its replicas
 * are re-replicated); any change has its chunks looked at again.
 */
export async function setNodeState(ctx: MasterContext, leader: LeaderState, server: ServerId, state: NodeAdminState): Promise<void> {
  if (state === 'decommissioned') throw new DfsError('INVALID_ARGUMENT', 'a server becomes decommissioned when it is drained: ask for decommissioning');
  const before = ctx.state().nodeState(server);
  if (before === state) return;
  await ctx.propose({ timeUs: String(ctx.clock.wallUs()), setNodeState: { serverId: server, state: nodeStateToWire(state) } });
  ctx.logger.info({ server, from: before, to: state }, 'chunkserver admin state changed');
  const current = ctx.leader();
  if (current !== leader) return;
  const record = leader.registry.get(server);
  if (before === 'maintenance' && record !== undefined && !record.alive) leader.forgetServer(server);
  if (state === 'active') leader.distribution.memberUp(server);
  else leader.distribution.memberDown(server);
  for (const handle of leader.locations.inventory(server).keys()) leader.replication.mark(handle);
}

/** One row of `dfs admin nodes`. */
export function nodeStatus(ctx: MasterContext, leader: LeaderState, server: ServerId): ChunkserverStatus {
  const now = ctx.clock.nowMs();
  const s = leader.registry.get(server);
  const state = ctx.state().nodeState(server);
  const base = {
    adminState: nodeStateToWire(state),
    copiesInFlight: leader.replication.copiesOn(server),
    drainChunksLeft: String(state === 'decommissioning' ? leader.decommissions.chunksLeft(server) : 0),
  };
  if (s === undefined) {
    return { server: { id: server, address: '', zone: '', rack: '' }, alive: false, registered: false, ...base };
  }
  return {
    server: serverRef(s),
    alive: s.alive,
    registered: true,
    capacityBytes: String(s.capacityBytes),
    usedBytes: String(s.usedBytes),
    chunkCount: String(s.chunkCount),
    lastHeartbeatMsAgo: String(Math.max(0, Math.floor(now - s.lastHeartbeatMs))),
    load: s.load,
    ...base,
  };
}

/** Every server the leader knows or has a recorded state for, by address. */
export function allNodes(ctx: MasterContext, leader: LeaderState): ChunkserverStatus[] {
  const ids = new Set<ServerId>(leader.registry.all().map((s) => s.id));
  for (const [id] of ctx.state().nodeStatesNotActive()) ids.add(id as ServerId);
  const key = (s: ChunkserverStatus) => `${s.server?.address ?? ''} ${s.server?.id ?? ''}`;
  return [...ids].map((id) => nodeStatus(ctx, leader, id)).sort((a, b) => key(a).localeCompare(key(b)));
}
