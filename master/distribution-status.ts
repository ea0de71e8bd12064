import { DfsError } from '../common/errors.js';
import type { ServerId } from '../common/ids.js';
import type { DistributionNodeStatus } from '../proto/generated/dfs/master/DistributionNodeStatus.js';
import type { DistributionStatusResponse } from '../proto/generated/dfs/master/DistributionStatusResponse.js';
import type { LeaderState } from './leader-state.js';
import { serverRef } from './lease-manager.js';
import type { MasterStateMachine } from './state-machine.js';

export const DISTRIBUTION_ROWS_DEFAULT = 100;

/**
 * How far a file has got to every node, as the leader knows it: a node holds
 * a chunk when it reported a replica at the chunk's confirmed version (a
 * replica is reported only once whole and verified). Costs one pass over
 * the file's replicas; rows are the least complete nodes first.
 */
export function distributionStatus(
  state: MasterStateMachine,
  leader: LeaderState,
  path: string,
  maxRows: number,
  nowWallMs: number,
): DistributionStatusResponse {
  const attr = state.stat(path);
  if (attr.kind !== 'file') throw new DfsError('INVALID_ARGUMENT', `${path} is not a file`);
  const members = leader.distribution.memberIds();
  const heldChunks = new Map<ServerId, number>();
  const heldBytes = new Map<ServerId, number>();
  const receiving = new Map<ServerId, number>();
  let chunks = 0;
  let bytesDone = 0;
  state.forEachChunkOf(attr.inode, (handle) => {
    chunks++;
    const chunk = state.chunk(handle)!;
    const bytes = state.chunkBytes(handle);
    for (const [server, version] of leader.locations.holders(handle)) {
      if (!members.has(server)) continue;
      if (version >= chunk.confirmedVersion && chunk.confirmedVersion > 0 && !leader.locations.isCondemned(server, handle)) {
        heldChunks.set(server, (heldChunks.get(server) ?? 0) + 1);
        heldBytes.set(server, (heldBytes.get(server) ?? 0) + bytes);
        bytesDone += bytes;
      }
    }
  });
  leader.distribution.forEachReceiving((server, handle, bytes) => {
    if (state.chunk(handle)?.inode === attr.inode) receiving.set(server, (receiving.get(server) ?? 0) + bytes);
  });
  const rows: DistributionNodeStatus[] = [];
  let complete = 0;
  const run = leader.distribution.run(attr.inode);
  for (const server of members) {
    const record = leader.registry.get(server);
    if (record === undefined) continue;
    const held = heldChunks.get(server) ?? 0;
    if (held === chunks) complete++;
    bytesDone += receiving.get(server) ?? 0;
    rows.push({
      server: serverRef(record),
      alive: record.alive,
      chunksHeld: String(held),
      bytesHeld: String(heldBytes.get(server) ?? 0),
      bytesReceiving: String(receiving.get(server) ?? 0),
      complete: held === chunks,
      sentBytes: String(leader.distribution.copyOutBytes(server)),
    });
  }
  rows.sort((a, b) => Number(a.bytesHeld) + Number(a.bytesReceiving) - (Number(b.bytesHeld) + Number(b.bytesReceiving)));
  const bytesWanted = attr.size * members.size;
  const rate = run?.rateBytesPerS ?? 0;
  const left = Math.max(0, bytesWanted - bytesDone);
  return {
    path,
    replicateAll: attr.replicateAll,
    fileBytes: String(attr.size),
    chunks: String(chunks),
    nodes: String(members.size),
    nodesComplete: String(complete),
    bytesWanted: String(bytesWanted),
    bytesDone: String(Math.min(bytesDone, bytesWanted)),
    originSentBytes: String(run?.originSentBytes ?? 0),
    rateBytesPerS: rate,
    etaS: left === 0 ? 0 : rate > 0 ? left / rate : -1,
    startedAtMs: String(run?.startedAtWallMs ?? nowWallMs),
    nodeStatus: rows.slice(0, maxRows),
  };
}
