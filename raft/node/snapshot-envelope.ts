import { DfsError } from '../../common/errors.js';
import type { SnapshotEnvelope, SnapshotEnvelope__Output } from '../../proto/generated/dfs/raft/SnapshotEnvelope.js';
import { nodeId, type NodeId } from '../core/types.js';
import { raftCodec } from '../proto/raft-proto.js';

/**
 * A RaftGroup snapshot: the application's state plus every member's address,
 * which the core's membership (ids only) does not carry.
 */
export interface Envelope {
  readonly members: ReadonlyMap<NodeId, string>;
  readonly state: Uint8Array;
}

const codec = raftCodec<SnapshotEnvelope, SnapshotEnvelope__Output>('SnapshotEnvelope');

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const members = [...envelope.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, address]) => ({ id, address }));
  return codec.encode({ members, state: envelope.state });
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  let decoded: SnapshotEnvelope__Output;
  try {
    decoded = codec.decode(data);
  } catch (err) {
    throw new DfsError('INTERNAL', 'raft snapshot envelope is corrupt', { cause: err });
  }
  const members = new Map<NodeId, string>();
  for (const m of decoded.members) members.set(nodeId(m.id), m.address);
  const state = decoded.state;
  return { members, state: new Uint8Array(state.buffer, state.byteOffset, state.byteLength) };
}
