import type { ChunkserverStatus__Output } from '../proto/generated/dfs/master/ChunkserverStatus.js';
import type { FsckFile__Output } from '../proto/generated/dfs/master/FsckFile.js';
import type { FsckSummary__Output } from '../proto/generated/dfs/master/FsckSummary.js';
import type { RebalanceResponse__Output } from '../proto/generated/dfs/master/RebalanceResponse.js';
import type { RebalanceStatusResponse__Output } from '../proto/generated/dfs/master/RebalanceStatusResponse.js';
import type { FsckCounts } from '../common/fsck-counts.js';
import { formatBytes } from './size.js';

/** What `dfs admin nodes` shows for one chunkserver, and prints with --json. */
export interface NodeRow {
  id: string;
  address: string;
  zone: string;
  rack: string;
  /** alive, dead, decommissioning, decommissioned or maintenance. */
  state: string;
  alive: boolean;
  capacityBytes: number;
  usedBytes: number;
  chunks: number;
  lastHeartbeatMsAgo: number | null;
  /** Reads, writes and copies the server reports running. */
  transfersInFlight: number;
  /** Copies the master has running to or from it. */
  copiesInFlight: number;
  /** While decommissioning: chunks that do not yet have their goal elsewhere. */
  drainChunksLeft: number;
}

const ADMIN_STATE_NAMES: Record<string, string> = {
  NODE_ADMIN_STATE_DECOMMISSIONING: 'decommissioning',
  NODE_ADMIN_STATE_DECOMMISSIONED: 'decommissioned',
  NODE_ADMIN_STATE_MAINTENANCE: 'maintenance',
};

export function nodeRow(s: ChunkserverStatus__Output): NodeRow {
  const load = s.load ?? { activeReads: 0, activeWrites: 0, activeCopies: 0 };
  return {
    id: s.server?.id ?? '',
    address: s.server?.address ?? '',
    zone: s.server?.zone ?? '',
    rack: s.server?.rack ?? '',
    state: ADMIN_STATE_NAMES[s.adminState] ?? (s.alive ? 'alive' : 'dead'),
    alive: s.alive,
    capacityBytes: Number(s.capacityBytes),
    usedBytes: Number(s.usedBytes),
    chunks: Number(s.chunkCount),
    lastHeartbeatMsAgo: s.registered ? Number(s.lastHeartbeatMsAgo) : null,
    transfersInFlight: load.activeReads + load.activeWrites + load.activeCopies,
    copiesInFlight: s.copiesInFlight,
    drainChunksLeft: Number(s.drainChunksLeft),
  };
}

export function formatNodes(rows: readonly NodeRow[]): string {
  const table = [
    ['ADDRESS', 'ZONE/RACK', 'STATE', 'CAPACITY', 'USED', 'USE%', 'CHUNKS', 'HEARTBEAT', 'TRANSFERS', 'COPIES'],
    ...rows.map((r) => [
      r.address || r.id,
      `${r.zone}/${r.rack}`,
      r.state === 'decommissioning' ? `decommissioning (${r.drainChunksLeft} left)` : r.state + (r.alive || r.state === 'dead' ? '' : ' (down)'),
      formatBytes(r.capacityBytes),
      formatBytes(r.usedBytes),
      r.capacityBytes > 0 ? `${((100 * r.usedBytes) / r.capacityBytes).toFixed(1)}%` : '-',
      String(r.chunks),
      r.lastHeartbeatMsAgo === null ? 'never' : `${(r.lastHeartbeatMsAgo / 1000).toFixed(1)}s ago`,
      String(r.transfersInFlight),
      String(r.copiesInFlight),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function addSummary(totals: FsckCounts, s: FsckSummary__Output | null): void {
  if (s === null) return;
  for (const key of Object.keys(totals) as (keyof FsckCounts)[]) totals[key] += Number(s[key]);
}

/** Data at risk: a chunk with nothing readable (missing, or no usable replica). */
export function dataAtRisk(t: FsckCounts): boolean {
  return t.missing + t.unavailable > 0;
}

export function fsckStatus(t: FsckCounts): 'healthy' | 'degraded' | 'at-risk' {
  if (dataAtRisk(t)) return 'at-risk';
  return t.underReplicated + t.overReplicated + t.corruptReplicas + t.staleReplicas > 0 ? 'degraded' : 'healthy';
}

const HEALTH_NAMES: Record<string, string> = {
  CHUNK_HEALTH_HEALTHY: 'healthy',
  CHUNK_HEALTH_UNDER_REPLICATED: 'under-replicated',
  CHUNK_HEALTH_OVER_REPLICATED: 'over-replicated',
  CHUNK_HEALTH_UNAVAILABLE: 'unavailable',
  CHUNK_HEALTH_MISSING: 'missing',
};

const REPLICA_NAMES: Record<string, string> = {
  REPLICA_HEALTH_USABLE: 'usable',
  REPLICA_HEALTH_DRAINING: 'draining',
  REPLICA_HEALTH_STALE: 'stale',
  REPLICA_HEALTH_CORRUPT: 'corrupt',
  REPLICA_HEALTH_DOWN: 'down',
};

/** A problem file as --json prints it. */
export function fsckFileJson(f: FsckFile__Output) {
  return {
    path: f.path,
    inode: Number(f.inode),
    size: Number(f.size),
    replication: f.replicateAll ? 'all' : f.replication,
    chunksNotListed: Number(f.chunksNotListed),
    chunks: f.chunks.map((c) => ({
      index: Number(c.index),
      handle: Number(c.handle),
      version: Number(c.version),
      health: HEALTH_NAMES[c.health] ?? c.health,
      goal: c.goal,
      usable: c.usable,
      replicas: c.replicas.map((r) => ({ serverId: r.serverId, address: r.address, version: Number(r.version), health: REPLICA_NAMES[r.health] ?? r.health })),
    })),
  };
}

export function formatFsckFile(f: FsckFile__Output): string {
  const j = fsckFileJson(f);
  const lines = [`${j.path} (replication ${j.replication})`];
  for (const c of j.chunks) {
    const replicas = c.replicas.map((r) => `${r.address || r.serverId}:${r.health}`).join(' ');
    lines.push(`  chunk ${c.index} (handle ${c.handle}, v${c.version}): ${c.health}, ${c.usable}/${c.goal} usable  ${replicas || '(no replica)'}`);
  }
  if (j.chunksNotListed > 0) lines.push(`  ... and ${j.chunksNotListed} more unhealthy chunks`);
  return lines.join('\n');
}

export function formatFsckSummary(path: string, t: FsckCounts): string {
  const status = fsckStatus(t);
  return [
    `fsck ${path}: ${status === 'at-risk' ? 'DATA AT RISK' : status.toUpperCase()}`,
    `  files ${t.files} (${formatBytes(t.bytes)}), chunks ${t.chunks}: healthy ${t.healthy}, under-replicated ${t.underReplicated}, over-replicated ${t.overReplicated}, unavailable ${t.unavailable}, missing ${t.missing}`,
    `  replicas: corrupt ${t.corruptReplicas}, stale ${t.staleReplicas}`,
  ].join('\n');
}

export function rebalanceStatusJson(s: RebalanceStatusResponse__Output) {
  return {
    state: s.state,
    background: s.background,
    thresholdPct: s.thresholdPct,
    maxConcurrent: s.maxConcurrent,
    movesPlanned: Number(s.movesPlanned),
    movesDone: Number(s.movesDone),
    movesFailed: Number(s.movesFailed),
    movesInFlight: s.movesInFlight,
    bytesPlanned: Number(s.bytesPlanned),
    bytesMoved: Number(s.bytesMoved),
    startedMsAgo: Number(s.startedMsAgo),
    meanUsedPct: s.meanUsedPct,
    maxDeviationPct: s.maxDeviationPct,
  };
}

export function rebalancePlanJson(r: RebalanceResponse__Output) {
  return {
    movesPlanned: Number(r.movesPlanned),
    bytesPlanned: Number(r.bytesPlanned),
    meanUsedPct: r.meanUsedPct,
    maxDeviationPct: r.maxDeviationPct,
    maxDeviationAfterPct: r.maxDeviationAfterPct,
    moves: r.moves.map((m) => ({ handle: Number(m.handle), from: m.from?.address ?? '', to: m.to?.address ?? '', bytes: Number(m.bytes) })),
    status: r.status === null ? null : rebalanceStatusJson(r.status),
  };
}

export function formatPlan(r: RebalanceResponse__Output, thresholdPct: number): string {
  const plan = rebalancePlanJson(r);
  const head =
    `plan: ${plan.movesPlanned} moves, ${formatBytes(plan.bytesPlanned)}; mean use ${plan.meanUsedPct.toFixed(1)}%, ` +
    `farthest server ${plan.maxDeviationPct.toFixed(1)} points off now, ${plan.maxDeviationAfterPct.toFixed(1)} after (threshold ${thresholdPct})`;
  const rows = plan.moves.map((m) => `  chunk ${m.handle}  ${m.from} -> ${m.to}  ${formatBytes(m.bytes)}`);
  const more = plan.movesPlanned > plan.moves.length ? [`  ... and ${plan.movesPlanned - plan.moves.length} more`] : [];
  return [head, ...rows, ...more].join('\n');
}
