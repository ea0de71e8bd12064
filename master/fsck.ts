import { DfsError } from '../common/errors.js';
import type { ChunkHandle, ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { ChunkHealth as WireChunkHealth } from '../proto/generated/dfs/master/ChunkHealth.js';
import type { FsckChunk } from '../proto/generated/dfs/master/FsckChunk.js';
import type { FsckFile } from '../proto/generated/dfs/master/FsckFile.js';
import type { FsckReplica } from '../proto/generated/dfs/master/FsckReplica.js';
import type { FsckResponse } from '../proto/generated/dfs/master/FsckResponse.js';
import type { ReplicaHealth } from '../proto/generated/dfs/master/ReplicaHealth.js';
import type { LeaderState } from './leader-state.js';
import type { MasterStateMachine } from './state-machine.js';
import { walkNamespace } from './namespace-walk.js';
import { emptyFsckCounts, type FsckCounts } from '../common/fsck-counts.js';
import { chunkHealth, type ChunkHealth, type ReplicaClasses } from './replica-classes.js';

/** Each health as the wire says it, and the count it adds to. */
const HEALTH: Record<ChunkHealth, { wire: WireChunkHealth & string; count: keyof FsckCounts }> = {
  healthy: { wire: 'CHUNK_HEALTH_HEALTHY', count: 'healthy' },
  'under-replicated': { wire: 'CHUNK_HEALTH_UNDER_REPLICATED', count: 'underReplicated' },
  'over-replicated': { wire: 'CHUNK_HEALTH_OVER_REPLICATED', count: 'overReplicated' },
  unavailable: { wire: 'CHUNK_HEALTH_UNAVAILABLE', count: 'unavailable' },
  missing: { wire: 'CHUNK_HEALTH_MISSING', count: 'missing' },
};

/**
 * One page of `dfs admin fsck`: walks the namespace under `root` after
 * `cursor` (see namespace-walk.ts) until `maxItems` inodes are examined, and
 * lists the files with chunks that are not healthy, those chunks only, at
 * most LIMITS.fsckChunksListedMax of them per page (the summary counts all).
 * The next cursor is the last inode examined. Read-only; the caller holds a
 * read barrier.
 */
export function fsckPage(state: MasterStateMachine, leader: LeaderState, root: string, cursor: string, maxItems: number): FsckResponse {
  if (cursor !== '' && cursor !== root && !cursor.startsWith(root === '/' ? '/' : root + '/')) {
    throw new DfsError('INVALID_ARGUMENT', `cursor ${JSON.stringify(cursor)} is not under ${root}`);
  }
  const counts = emptyFsckCounts();
  const files: FsckFile[] = [];
  let listed = 0;
  let examined = 0;
  let last = '';
  for (const item of walkNamespace(state, root, cursor)) {
    last = item.path;
    examined++;
    if (item.attr.kind === 'file') {
      counts.files++;
      counts.bytes += item.attr.size;
      const problems: FsckChunk[] = [];
      let notListed = 0;
      state.forEachChunkOf(item.attr.inode, (handle, slot) => {
        const chunk = checkChunk(state, leader, handle, counts);
        if (chunk === undefined) return;
        if (listed >= LIMITS.fsckChunksListedMax) {
          notListed++;
          return;
        }
        listed++;
        problems.push({ ...chunk, index: String(slot) });
      });
      if (problems.length > 0 || notListed > 0) {
        files.push({
          path: item.path,
          inode: String(item.attr.inode),
          size: String(item.attr.size),
          replication: item.attr.replication,
          replicateAll: item.attr.replicateAll,
          chunks: problems,
          chunksNotListed: String(notListed),
        });
      }
    }
    if (examined >= maxItems) break;
  }
  const done = examined < maxItems;
  return {
    files,
    summary: {
      files: String(counts.files),
      chunks: String(counts.chunks),
      healthy: String(counts.healthy),
      underReplicated: String(counts.underReplicated),
      overReplicated: String(counts.overReplicated),
      unavailable: String(counts.unavailable),
      missing: String(counts.missing),
      corruptReplicas: String(counts.corruptReplicas),
      staleReplicas: String(counts.staleReplicas),
      bytes: String(counts.bytes),
    },
    nextCursor: done ? '' : last,
  };
}

/** Counts the chunk; returns it when it is not healthy. A chunk never written holds nothing to check. */
function checkChunk(state: MasterStateMachine, leader: LeaderState, handle: ChunkHandle, counts: FsckCounts): Omit<FsckChunk, 'index'> | undefined {
  const info = state.chunk(handle);
  if (info === undefined || info.confirmedVersion === 0) return undefined;
  const goal = leader.goalOf(handle) ?? 0;
  const classes = leader.replicaClasses(handle, info.confirmedVersion);
  // A file on every node: replicas past the durable goal are its distribution tier, and older ones the bases its next version is fetched against.
  const everywhere = state.chunkGoal(handle)?.all === true;
  const health = chunkHealth(classes, everywhere ? Math.max(goal, classes.counted.length) : goal);
  const stale = everywhere ? 0 : classes.stale.length;
  counts.chunks++;
  counts.corruptReplicas += classes.condemned.length;
  counts.staleReplicas += stale;
  counts[HEALTH[health].count]++;
  if (health === 'healthy' && classes.condemned.length === 0 && stale === 0) return undefined;
  return {
    handle: String(handle),
    version: String(info.confirmedVersion),
    health: HEALTH[health].wire,
    goal,
    usable: classes.counted.length,
    replicas: replicaList(leader, handle, classes),
  };
}

function replicaList(leader: LeaderState, handle: ChunkHandle, classes: ReplicaClasses): FsckReplica[] {
  const holders = leader.locations.holders(handle);
  const out: FsckReplica[] = [];
  const add = (ids: ServerId[], health: ReplicaHealth & string) => {
    for (const id of ids) {
      out.push({ serverId: id, address: leader.registry.get(id)?.address ?? '', version: String(holders.get(id) ?? 0), health });
    }
  };
  add(classes.counted, 'REPLICA_HEALTH_USABLE');
  add([...classes.draining, ...classes.released], 'REPLICA_HEALTH_DRAINING');
  add(classes.down, 'REPLICA_HEALTH_DOWN');
  add(classes.stale, 'REPLICA_HEALTH_STALE');
  add(classes.condemned, 'REPLICA_HEALTH_CORRUPT');
  return out;
}
