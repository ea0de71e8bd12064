import type { ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { RebalanceResponse } from '../proto/generated/dfs/master/RebalanceResponse.js';
import type { RebalanceStatusResponse } from '../proto/generated/dfs/master/RebalanceStatusResponse.js';
import type { ServerRef } from '../proto/generated/dfs/ServerRef.js';
import type { LeaderState } from './leader-state.js';
import { serverRef } from './lease-manager.js';
import type { RebalanceProgress } from './movement-status.js';
import { movesBytes, type RebalancePlan } from './rebalance-planner.js';

export function rebalanceStatusToWire(p: RebalanceProgress, nowMs: number): RebalanceStatusResponse {
  return {
    state: p.state,
    background: p.background,
    thresholdPct: p.thresholdPct,
    maxConcurrent: p.maxConcurrent,
    movesPlanned: String(p.movesPlanned),
    movesDone: String(p.movesDone),
    movesFailed: String(p.movesFailed),
    movesInFlight: p.movesInFlight,
    bytesPlanned: String(p.bytesPlanned),
    bytesMoved: String(p.bytesMoved),
    startedMsAgo: String(p.startedAtMs === undefined ? 0 : Math.max(0, Math.floor(nowMs - p.startedAtMs))),
    meanUsedPct: p.meanUsedPct,
    maxDeviationPct: p.maxDeviationPct,
  };
}

/** A plan as the Rebalance reply carries it: the first LIMITS.rebalanceMovesListedMax moves, counts of all. */
export function rebalancePlanToWire(leader: LeaderState, plan: RebalancePlan, status: RebalanceStatusResponse): RebalanceResponse {
  const ref = (id: ServerId): ServerRef => {
    const s = leader.registry.get(id);
    return s === undefined ? { id, address: '', zone: '', rack: '' } : serverRef(s);
  };
  return {
    moves: plan.moves.slice(0, LIMITS.rebalanceMovesListedMax).map((m) => ({ handle: String(m.handle), from: ref(m.from), to: ref(m.to), bytes: String(m.bytes) })),
    movesPlanned: String(plan.moves.length),
    bytesPlanned: String(movesBytes(plan.moves)),
    status,
    meanUsedPct: plan.meanUsedPct,
    maxDeviationPct: plan.maxDeviationPct,
    maxDeviationAfterPct: plan.maxDeviationAfterPct,
  };
}
