import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { choosePlacement, chooseSource, type PlacementCandidate } from './placement-policy.js';
import { chooseSurplus } from './surplus-planner.js';

export interface ChunkReplicationState {
  handle: ChunkHandle;
  version: ChunkVersion;
  /** Replicas wanted: a count, or the number of live servers for `all`. */
  goal: number;
  /** Usable replicas that count toward the goal: live server, current version, not condemned, active or in maintenance. */
  valid: PlacementCandidate[];
  /** Usable replicas on decommissioning servers: copied from, never counted, never trimmed. */
  draining: PlacementCandidate[];
  /** Usable replicas on decommissioned servers: copied from, deleted once the goal is met without them. */
  released: PlacementCandidate[];
  /** Current replicas on servers in maintenance that are down: counted, but no source. */
  down: number;
  /** Servers already receiving a copy of this chunk. */
  copyingTo: ServerId[];
  leased: boolean;
  /** A rebalancing move is replacing one of its replicas: trim nothing until it is done. */
  moving: boolean;
  /** Replicas above the goal are kept: the chunk's file is on every node (replication `all`). */
  keepSurplus: boolean;
}

export interface CopyPlan {
  handle: ChunkHandle;
  version: ChunkVersion;
  target: ServerId;
  /** Sources in the order to try them. */
  sources: ServerId[];
}

export interface ReplicationPlan {
  copies: CopyPlan[];
  /** Replicas above the goal, and released replicas the goal no longer needs, to delete. */
  excess: { handle: ChunkHandle; server: ServerId }[];
  /** Under the goal but leased: the lease must lapse before a copy. */
  blockedByLease: ChunkHandle[];
  /** No usable replica anywhere: data unavailable until a holder returns. */
  missing: ChunkHandle[];
  /** Under the goal, but every candidate is busy or full: try again later. */
  deferred: ChunkHandle[];
  /** Fully replicated. */
  healthy: ChunkHandle[];
}

/**
 * Decides one round of re-replication. The most endangered chunks (fewest
 * usable replicas) go first; no server takes part in more than
 * `copiesPerServerMax` copies at once, as source or target. Pure.
 */
export function planReplication(
  chunks: readonly ChunkReplicationState[],
  live: readonly PlacementCandidate[],
  copiesInFlight: ReadonlyMap<ServerId, number>,
  options: { copiesPerServerMax: number; minFreeBytes: number; highWaterMark: number; random: () => number },
): ReplicationPlan {
  const plan: ReplicationPlan = { copies: [], excess: [], blockedByLease: [], missing: [], deferred: [], healthy: [] };
  const busy = new Map(copiesInFlight);
  const hasRoom = (id: ServerId) => (busy.get(id) ?? 0) < options.copiesPerServerMax;
  const take = (id: ServerId) => busy.set(id, (busy.get(id) ?? 0) + 1);
  const ordered = [...chunks].sort((a, b) => a.valid.length - b.valid.length || b.goal - a.goal);

  for (const chunk of ordered) {
    const have = chunk.valid.length + chunk.copyingTo.length + chunk.down;
    const readable = [...chunk.valid, ...chunk.draining, ...chunk.released];
    if (readable.length === 0) {
      plan.missing.push(chunk.handle);
      continue;
    }
    if (have < chunk.goal) {
      if (chunk.leased) {
        plan.blockedByLease.push(chunk.handle);
        continue;
      }
      const exclude = new Set<ServerId>([...readable.map((c) => c.id), ...chunk.copyingTo]);
      const targets = choosePlacement(
        live.filter((c) => hasRoom(c.id)),
        chunk.goal - have,
        { existing: chunk.valid, exclude, minFreeBytes: options.minFreeBytes, highWaterMark: options.highWaterMark, random: options.random },
      );
      let planned = 0;
      for (const target of targets) {
        const sources = readable.filter((c) => hasRoom(c.id));
        const first = chooseSource(sources, target, options.random);
        if (first === undefined) break;
        take(target.id);
        take(first.id);
        const rest = readable.filter((c) => c.id !== first.id).map((c) => c.id);
        plan.copies.push({ handle: chunk.handle, version: chunk.version, target: target.id, sources: [first.id, ...rest] });
        planned++;
      }
      if (planned < chunk.goal - have) plan.deferred.push(chunk.handle);
      continue;
    }
    // Deletions wait for copies and moves in flight and for leases: each may still need every replica.
    const settled = chunk.copyingTo.length === 0 && !chunk.leased && !chunk.moving;
    if (settled && chunk.valid.length >= chunk.goal) {
      const surplus = chunk.keepSurplus ? [] : chooseSurplus(chunk.valid, chunk.goal);
      for (const victim of [...chunk.released, ...surplus]) plan.excess.push({ handle: chunk.handle, server: victim.id });
    }
    plan.healthy.push(chunk.handle);
  }
  return plan;
}
