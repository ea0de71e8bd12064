import { DfsError } from '../common/errors.js';
import { unary } from '../common/grpc-server.js';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion, type ServerId } from '../common/ids.js';
import type { RegistryHandlers } from '../proto/generated/dfs/master/Registry.js';
import type { ChunkReplicaInfo, ChunkReplicaInfo__Output } from '../proto/generated/dfs/master/ChunkReplicaInfo.js';
import { scheduleDelete, type MasterContext } from './master-context.js';
import { usableReplicas } from './replica-views.js';
import { requireAddress, requireId, requireInteger, requireLabel } from '../common/wire-validation.js';

/**
 * Chunkservers' registration, heartbeats and problem reports. Chunk locations
 * are soft state rebuilt from these (see chunk-locations.ts).
 */
export function registryHandlers(ctx: MasterContext): RegistryHandlers {
  const onInternal = (err: unknown) => ctx.logger.error({ err }, 'internal error in a registry handler');

  return {
    Register: unary(async (req) => {
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
      const previous = ctx.locations.dropServer(id);
      ctx.registry.register(id, labels, requireInteger(req.capacityBytes, 'capacity_bytes'), requireInteger(req.usedBytes, 'used_bytes'), ctx.clock.nowMs());
      ctx.locations.replaceInventory(id, reports);
      for (const r of reports) judge(ctx, id, r.handle, r.version);
      for (const handle of previous) ctx.markForReplication(handle);
      for (const r of reports) ctx.markForReplication(r.handle);
      ctx.logger.info({ server: id, address: labels.address, chunks: reports.length }, 'chunkserver registered');
      return {
        heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
        chunkSizeBytes: String(ctx.state().config().chunkSizeBytes),
        delete: pendingFor(ctx, id),
      };
    }, onInternal),

    Heartbeat: unary(async (req) => {
      await ctx.log.readBarrier();
      const id = serverId(requireId(req.serverId, 'server_id'));
      const now = ctx.clock.nowMs();
      const known = ctx.registry.heartbeat(
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
        const mirrored = ctx.locations.inventory(id).get(report.handle);
        // A report that crossed a grant in flight: the master already knows better.
        if (mirrored !== undefined && mirrored > report.version) continue;
        ctx.locations.set(id, report.handle, report.version);
        judge(ctx, id, report.handle, report.version);
        ctx.markForReplication(report.handle);
      }
      for (const raw of req.removed) {
        const handle = chunkHandle(requireInteger(raw, 'removed'));
        ctx.locations.remove(id, handle);
        ctx.pendingDeletes.get(id)?.delete(handle);
        ctx.markForReplication(handle);
      }
      const extendedLeases: string[] = [];
      for (const ext of req.leaseExtensions) {
        const handle = chunkHandle(requireInteger(ext.handle, 'lease_extensions.handle'));
        const version = chunkVersion(requireInteger(ext.version, 'lease_extensions.version'));
        if (ctx.leases.extend(handle, id, version, now, ctx.config.leaseDurationMs)) extendedLeases.push(String(handle));
      }
      return {
        delete: pendingFor(ctx, id),
        extendedLeases,
        fullReportWanted: ctx.locations.digest(id) !== req.inventoryDigest,
      };
    }, onInternal),

    ReportReplicaProblem: unary(async (req) => {
      await ctx.log.readBarrier();
      const reporter = serverId(requireId(req.serverId, 'server_id'));
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      switch (req.problem) {
        case 'REPLICA_PROBLEM_CORRUPT':
          ctx.logger.warn({ server: reporter, handle, version }, 'replica reported corrupt');
          scheduleDelete(ctx, reporter, handle, version);
          break;
        case 'REPLICA_PROBLEM_CHAIN_FAILURE':
          ctx.logger.warn({ server: reporter, handle, version, failed: req.failedServerIds }, 'write pipeline failed');
          for (const failed of req.failedServerIds) ctx.locations.condemn(serverId(requireId(failed, 'failed_server_ids')), handle);
          if (req.leaseReleased) ctx.leases.release(handle, version);
          break;
        default:
          throw new DfsError('INVALID_ARGUMENT', `unknown problem ${String(req.problem)}`);
      }
      ctx.markForReplication(handle);
      return {};
    }, onInternal),

    CommitChunkLength: unary(async (req) => {
      const server = serverId(requireId(req.serverId, 'server_id'));
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const length = requireInteger(req.length, 'length');
      await ctx.log.readBarrier();
      const state = ctx.state();
      const chunkSize = state.config().chunkSizeBytes;
      if (length > chunkSize) throw new DfsError('INVALID_ARGUMENT', `length ${length} exceeds the chunk size ${chunkSize}`);
      const lease = ctx.leases.current(handle, ctx.clock.nowMs());
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

function pendingFor(ctx: MasterContext, id: ServerId): ChunkReplicaInfo[] {
  const pending = ctx.pendingDeletes.get(id);
  if (pending === undefined) return [];
  return [...pending].map(([handle, version]) => ({ handle: String(handle), version: String(version), length: '0' }));
}

/**
 * Decides whether a reported replica should go: its chunk no longer exists,
 * or it is below the confirmed version while a usable replica exists
 * elsewhere. A stale replica that is the last copy of anything is kept, so
 * an operator can still recover from it.
 */
export function judge(ctx: MasterContext, server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
  const chunk = ctx.state().chunk(handle);
  if (chunk === undefined) {
    scheduleDelete(ctx, server, handle, version);
    return;
  }
  if (version < chunk.confirmedVersion && usableReplicas(ctx, handle, chunk.confirmedVersion).length > 0) {
    scheduleDelete(ctx, server, handle, version);
  }
}
