import type { ChunkHandle, ServerId } from '../common/ids.js';
import { rackKey } from './placement-policy.js';

/** A server that may give or take replicas: live and active. */
export interface BalanceServer {
  id: ServerId;
  zone: string;
  rack: string;
  capacityBytes: number;
  usedBytes: number;
}

/** Where a replica sits, for spreading: any server, taking part or not. */
export interface ReplicaSite {
  id: ServerId;
  zone: string;
  rack: string;
}

export interface BalanceChunk {
  handle: ChunkHandle;
  bytes: number;
  /** Every usable replica (on servers taking part or not). */
  replicas: ReplicaSite[];
}

export interface PlannedMove {
  handle: ChunkHandle;
  from: ServerId;
  to: ServerId;
  bytes: number;
}

export interface RebalancePlan {
  moves: PlannedMove[];
  /** Used bytes over capacity of the servers taking part, in percent. */
  meanUsedPct: number;
  /** The farthest server from the mean before the moves, in percentage points. */
  maxDeviationPct: number;
  /** The same after the planned moves. */
  maxDeviationAfterPct: number;
}

export interface RebalanceOptions {
  /** Every server should end within this many percentage points of the mean. */
  thresholdPct: number;
  /** No server is filled above this fraction of its capacity. */
  highWaterMark: number;
  maxMoves: number;
}

/**
 * Plans moves of replicas from the fullest servers to the emptiest until
 * every server's used fraction is within `thresholdPct` of the mean (or no
 * move helps). A move never takes a target above the high-water mark, above
 * the band, or a source below it; never puts a replica where the chunk
 * already has one; and never leaves a chunk's replicas on fewer zones or
 * racks than before. Each chunk moves at most once per plan. Pure and
 * deterministic: ties go to the lower id.
 */
export function planRebalance(servers: readonly BalanceServer[], chunks: readonly BalanceChunk[], options: RebalanceOptions): RebalancePlan {
  const capacity = servers.reduce((sum, s) => sum + s.capacityBytes, 0);
  const used = new Map(servers.map((s) => [s.id, s.usedBytes]));
  const mean = capacity > 0 ? servers.reduce((sum, s) => sum + s.usedBytes, 0) / capacity : 0;
  const band = options.thresholdPct / 100;
  // A server's used fraction as the plan has it so far, with `deltaBytes` more.
  const fraction = (s: BalanceServer, deltaBytes = 0) => (s.capacityBytes > 0 ? (used.get(s.id)! + deltaBytes) / s.capacityBytes : 1);
  const deviation = () => servers.reduce((max, s) => Math.max(max, Math.abs(fraction(s) - mean)), 0) * 100;
  const before = deviation();

  const held = new Map<ServerId, BalanceChunk[]>(servers.map((s) => [s.id, []]));
  // Copies: the plan rewrites replica lists as it moves them, and the caller's stay as given.
  const own = chunks.map((c) => ({ ...c, replicas: [...c.replicas] }));
  for (const chunk of own.sort((a, b) => b.bytes - a.bytes || a.handle - b.handle)) {
    for (const r of chunk.replicas) held.get(r.id)?.push(chunk);
  }
  const moved = new Set<ChunkHandle>();
  const moves: PlannedMove[] = [];
  const exhausted = new Set<ServerId>();

  while (moves.length < options.maxMoves) {
    const order = servers.filter((s) => !exhausted.has(s.id)).sort((a, b) => fraction(b) - fraction(a) || compareIds(a.id, b.id));
    const fullest = order[0];
    const emptiest = [...servers].sort((a, b) => fraction(a) - fraction(b) || compareIds(a.id, b.id));
    if (fullest === undefined) break;
    const tooFull = fraction(fullest) > mean + band;
    const tooEmpty = emptiest.some((s) => fraction(s) < mean - band);
    if (!tooFull && !tooEmpty) break;
    const move = findMove(fullest, emptiest, held.get(fullest.id)!, moved, {
      fraction,
      low: mean - band,
      high: mean + band,
      highWaterMark: options.highWaterMark,
    });
    if (move === undefined) {
      exhausted.add(fullest.id);
      continue;
    }
    const { chunk, target } = move;
    moved.add(chunk.handle);
    used.set(fullest.id, used.get(fullest.id)! - chunk.bytes);
    used.set(target.id, used.get(target.id)! + chunk.bytes);
    chunk.replicas = chunk.replicas.map((r) => (r.id === fullest.id ? { id: target.id, zone: target.zone, rack: target.rack } : r));
    held.get(target.id)!.push(chunk);
    moves.push({ handle: chunk.handle, from: fullest.id, to: target.id, bytes: chunk.bytes });
  }
  return { moves, meanUsedPct: mean * 100, maxDeviationPct: before, maxDeviationAfterPct: deviation() };
}

/** Bytes the moves carry. */
export function movesBytes(moves: readonly PlannedMove[]): number {
  return moves.reduce((sum, m) => sum + m.bytes, 0);
}

function findMove(
  source: BalanceServer,
  targets: readonly BalanceServer[],
  candidates: readonly BalanceChunk[],
  moved: ReadonlySet<ChunkHandle>,
  limits: {
    fraction: (s: BalanceServer, deltaBytes: number) => number;
    low: number;
    high: number;
    highWaterMark: number;
  },
): { chunk: BalanceChunk; target: BalanceServer } | undefined {
  for (const target of targets) {
    if (target.id === source.id || limits.fraction(target, 0) >= limits.fraction(source, 0)) continue;
    for (const chunk of candidates) {
      if (moved.has(chunk.handle) || chunk.bytes === 0) continue;
      if (!chunk.replicas.some((r) => r.id === source.id) || chunk.replicas.some((r) => r.id === target.id)) continue;
      const targetAfter = limits.fraction(target, chunk.bytes);
      if (targetAfter > limits.highWaterMark || targetAfter > limits.high) continue;
      if (limits.fraction(source, -chunk.bytes) < limits.low) continue;
      // The target must end below where the source began, or bytes only shuffle around.
      if (targetAfter >= limits.fraction(source, 0)) continue;
      if (!keepsSpread(chunk.replicas, source.id, target)) continue;
      return { chunk, target };
    }
  }
  return undefined;
}

/** Whether replacing the replica on `from` by one on `to` keeps as many zones and racks. */
export function keepsSpread(replicas: readonly ReplicaSite[], from: ServerId, to: ReplicaSite): boolean {
  const after = replicas.map((r) => (r.id === from ? to : r));
  const zones = (list: readonly ReplicaSite[]) => new Set(list.map((r) => r.zone)).size;
  const racks = (list: readonly ReplicaSite[]) => new Set(list.map(rackKey)).size;
  return zones(after) >= zones(replicas) && racks(after) >= racks(replicas);
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
