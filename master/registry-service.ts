import { DfsError } from '../common/errors.js';
import { unary } from '../common/grpc-server.js';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion, type ServerId } from '../common/ids.js';
import type { RegistryHandlers } from '../proto/generated/dfs/master/Registry.js';
import type { ChunkReplicaInfo, ChunkReplicaInfo__Output } from '../proto/generated/dfs/master/ChunkReplicaInfo.js';
import type { LeaseExtension__Output } from '../proto/generated/dfs/master/LeaseExtension.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import { usableReplicas } from './replica-views.js';
import { LIMITS } from '../common/limits.js';
import { requireAddress, requireId, requireInteger, requireLabel } from '../common/wire-validation.js';

/**
 * Chunkservers' registration, heartbeats and problem reports. Chunk locations
 * are soft state rebuilt from these (see chunk-locations.ts).
 */
export function registryHandlers(ctx: MasterContext): RegistryHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a registry handler');

  return {
    Register: unary(async (req) => {
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      const server = req.server;
      if (server === null) throw new DfsError('INVALID_ARGUMENT', 'server is required');
      const id = serverId(requireId(server.id, 'server.id'));
      const labels = {
        address: requireAddress(server.address, 'server.address'),
        zone: requireLabel(server.zone, 'server.zone'),
        rack: requireLabel(server.rack, 'server.rack'),
      };
      const reports = req.chunks.map(parseReport);
      const previous = leader.locations.dropServer(id);
      leader.registry.register(id, labels, requireInteger(req.capacityBytes, 'capacity_bytes'), requireInteger(req.usedBytes, 'used_bytes'), ctx.clock.nowMs());
      leader.locations.replaceInventory(id, reports);
      // A member first (which counts what it holds): judging keeps its older replicas of distributed chunks as delta bases.
      leader.distribution.memberUp(id);
      for (const r of reports) judge(ctx, leader, id, r.handle, r.version);
      for (const handle of previous) leader.replication.mark(handle);
      for (const r of reports) leader.replication.mark(r.handle);
      ctx.logger.info({ server: id, address: labels.address, chunks: reports.length }, 'chunkserver registered');
      return {
        heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
        chunkSizeBytes: String(ctx.state().config().chunkSizeBytes),
        delete: pendingFor(leader, id),
        extendedLeases: extendLeases(ctx, leader, id, req.leaseExtensions),
      };
    }, onInternal),

    Heartbeat: unary(async (req) => {
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      const id = serverId(requireId(req.serverId, 'server_id'));
      const now = ctx.clock.nowMs();
      const known = leader.registry.heartbeat(
        id,
        {
          capacityBytes: requireInteger(req.capacityBytes, 'capacity_bytes'),
          usedBytes: requireInteger(req.usedBytes, 'used_bytes'),
          load: {
            activeReads: req.load?.activeReads ?? 0,
            activeWrites: req.load?.activeWrites ?? 0,
            activeCopies: req.load?.activeCopies ?? 0,
          },
          chunkCount: requireInteger(req.chunkCount, 'chunk_count'),
        },
        now,
      );
      if (!known) return { delete: [], extendedLeases: [], fullReportWanted: true };
      for (const report of req.changed.map(parseReport)) {
        const mirrored = leader.locations.inventory(id).get(report.handle);
        // A report that crossed a grant in flight: the master already knows better.
        if (mirrored !== undefined && mirrored > report.version) continue;
        leader.locations.set(id, report.handle, report.version);
        judge(ctx, leader, id, report.handle, report.version);
        leader.replication.mark(report.handle);
        leader.distribution.reported(id, report.handle, report.version);
      }
      for (const raw of req.removed) {
        const handle = chunkHandle(requireInteger(raw, 'removed'));
        leader.locations.remove(id, handle);
        leader.pendingDeletes.get(id)?.delete(handle);
        leader.replication.mark(handle);
        leader.distribution.removed(id, handle);
      }
      leader.distribution.heartbeat(id, req.distribution, requireInteger(req.copyOutBytes, 'copy_out_bytes'));
      for (const h of req.heat.slice(0, LIMITS.heatReportsPerHeartbeatMax)) {
        const handle = chunkHandle(requireInteger(h.handle, 'heat.handle'));
        const base = leader.goalOf(handle);
        if (base !== undefined && leader.heat.record(handle, requireInteger(h.reads, 'heat.reads'), now, base)) leader.replication.mark(handle);
      }
      return {
        delete: pendingFor(leader, id),
        extendedLeases: extendLeases(ctx, leader, id, req.leaseExtensions),
        fullReportWanted: leader.locations.digest(id) !== req.inventoryDigest,
      };
    }, onInternal),

    ReportReplicaProblem: unary(async (req) => {
      const leader = ctx.leader();
      await ctx.log.readBarrier();
      const reporter = serverId(requireId(req.serverId, 'server_id'));
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      switch (req.problem) {
        case 'REPLICA_PROBLEM_CORRUPT':
          ctx.logger.warn({ server: reporter, handle, version }, 'replica reported corrupt');
          leader.scheduleDelete(reporter, handle, version);
          break;
        case 'REPLICA_PROBLEM_CHAIN_FAILURE':
          ctx.logger.warn({ server: reporter, handle, version, failed: req.failedServerIds }, 'write pipeline failed');
          for (const failed of req.failedServerIds) leader.locations.condemn(serverId(requireId(failed, 'failed_server_ids')), handle);
          if (req.leaseReleased) leader.leases.release(handle, version);
          break;
        default:
          throw new DfsError('INVALID_ARGUMENT', `unknown problem ${String(req.problem)}`);
      }
      leader.replication.mark(handle);
      return {};
    }, onInternal),

    ReleaseLease: unary(async (req) => {
      const leader = ctx.leader();
      const server = serverId(requireId(req.serverId, 'server_id'));
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      await ctx.log.readBarrier();
      const lease = leader.leases.current(handle, ctx.clock.nowMs());
      // Anything else is a release that crossed a newer grant, or of a lease this leader never knew: nothing to undo.
      if (lease !== undefined && lease.primary === server && lease.version === version) {
        leader.leases.release(handle, version);
        leader.replication.mark(handle);
        leader.distribution.kick();
        ctx.logger.debug({ handle, version, primary: server }, 'lease released while idle');
      }
      return {};
    }, onInternal),

    CommitChunkLength: unary(async (req) => {
      const leader = ctx.leader();
      const server = serverId(requireId(req.serverId, 'server_id'));
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const length = requireInteger(req.length, 'length');
      await ctx.log.readBarrier();
      const state = ctx.state();
      const chunkSize = state.config().chunkSizeBytes;
      if (length > chunkSize) throw new DfsError('INVALID_ARGUMENT', `length ${length} exceeds the chunk size ${chunkSize}`);
      const lease = leader.leases.current(handle, ctx.clock.nowMs());
      if (lease === undefined || lease.primary !== server || lease.version !== version) {
        throw new DfsError('LEASE_EXPIRED', `${server} holds no lease on chunk ${handle} at version ${version}`);
      }
      const chunk = state.chunk(handle);
      if (chunk === undefined) throw new DfsError('NOT_FOUND', `chunk ${handle} not found`);
      const end = chunk.index * chunkSize + length;
      const attr = state.statInode(chunk.inode);
      if (attr.size >= end) return { fileSize: String(attr.size) };
      // No request id: taking the larger size is idempotent by itself.
      const value = await ctx.propose({
        timeUs: String(ctx.clock.wallUs()),
        commitWrite: { inode: String(chunk.inode), endOffset: String(end) },
      });
      return { fileSize: String(value.kind === 'attr' ? value.attr.size : end) };
    }, onInternal),
  };
}

function parseReport(r: ChunkReplicaInfo__Output): { handle: ChunkHandle; version: ChunkVersion } {
  return {
    handle: chunkHandle(requireInteger(r.handle, 'chunks.handle')),
    version: chunkVersion(requireInteger(r.version, 'chunks.version')),
  };
}

function pendingFor(leader: LeaderState, id: ServerId): ChunkReplicaInfo[] {
  const pending = leader.pendingDeletes.get(id);
  if (pending === undefined) return [];
  return [...pending].map(([handle, version]) => ({ handle: String(handle), version: String(version), length: '0' }));
}

/**
 * Decides whether a reported replica should go: its chunk no longer exists,
 * or it is below the confirmed version while a usable replica exists
 * elsewhere. A stale replica that is the last copy of anything is kept, so
 * an operator can still recover from it.
 */
export function judge(ctx: MasterContext, leader: LeaderState, server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
  const chunk = ctx.state().chunk(handle);
  if (chunk === undefined) {
    leader.scheduleDelete(server, handle, version);
    return;
  }
  if (version >= chunk.confirmedVersion) return;
  // A member's older replica of a distributed chunk is the base its next version is fetched against: only what changed moves.
  if (ctx.state().chunkGoal(handle)?.all === true && leader.distribution.isMember(server)) return;
  if (usableReplicas(leader, handle, chunk.confirmedVersion).length > 0) leader.scheduleDelete(server, handle, version);
}

function extendLeases(ctx: MasterContext, leader: LeaderState, server: ServerId, asked: LeaseExtension__Output[]): string[] {
  const now = ctx.clock.nowMs();
  const extended: string[] = [];
  for (const ext of asked) {
    const handle = chunkHandle(requireInteger(ext.handle, 'lease_extensions.handle'));
    const version = chunkVersion(requireInteger(ext.version, 'lease_extensions.version'));
    if (extendOrAdopt(ctx, leader, server, handle, version, now)) extended.push(String(handle));
  }
  return extended;
}

/**
 * Extends a lease this leader granted, or adopts one that a primary holds
 * from an earlier leader. Adopting is safe: a primary asks only for a lease
 * it still holds, and while it does no other could have been granted, so
 * recording it lets writes to the chunk go on across a change of leader
 * instead of waiting out the fence. Only a lease at the chunk's confirmed,
 * latest version qualifies.
 */
function extendOrAdopt(
  ctx: MasterContext,
  leader: LeaderState,
  server: ServerId,
  handle: ChunkHandle,
  version: ChunkVersion,
  nowMs: number,
): boolean {
  const duration = ctx.config.leaseDurationMs;
  if (leader.leases.current(handle, nowMs) !== undefined) return leader.leases.extend(handle, server, version, nowMs, duration);
  const chunk = ctx.state().chunk(handle);
  if (chunk === undefined || chunk.version !== version || chunk.confirmedVersion !== version) return false;
  // A copy running now was allowed because no lease was held: adopting one would let writes miss it.
  if (leader.leases.isGranting(handle) || leader.replication.isCopying(handle)) return false;
  // The primary knows its pipeline; the record only needs some secondaries for clients, and for a file on every node the durable tier's size.
  const goal = ctx.state().chunkGoal(handle);
  const secondaries = usableReplicas(leader, handle, version)
    .map((s) => s.id)
    .filter((id) => id !== server)
    .slice(0, goal?.all === true ? Math.max(0, goal.replication - 1) : undefined);
  leader.leases.record({ handle, version, primary: server, secondaries, expiresAtMs: nowMs + duration });
  ctx.logger.info({ handle, version, primary: server }, 'adopted a lease granted by an earlier leader');
  return true;
}
