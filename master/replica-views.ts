import type { ChunkHandle, ChunkVersion } from '../common/ids.js';
import type { ChunkserverRecord } from './chunkserver-registry.js';
import type { LeaderState } from './leader-state.js';
import type { PlacementCandidate } from './placement-policy.js';

/**
 * Replicas a client may read and a lease may include: on a live server, at or
 * above the confirmed version (see lease-manager.ts), not condemned.
 */
export function usableReplicas(leader: LeaderState, handle: ChunkHandle, confirmed: ChunkVersion): ChunkserverRecord[] {
  const out: ChunkserverRecord[] = [];
  for (const [server, version] of leader.locations.holders(handle)) {
    if (version < confirmed || leader.locations.isCondemned(server, handle)) continue;
    const record = leader.registry.get(server);
    if (record?.alive) out.push(record);
  }
  return out;
}

export function placementCandidate(s: ChunkserverRecord): PlacementCandidate {
  return {
    id: s.id,
    zone: s.zone,
    rack: s.rack,
    capacityBytes: s.capacityBytes,
    usedBytes: s.usedBytes,
    activity: s.load.activeReads + s.load.activeWrites + s.load.activeCopies,
  };
}
