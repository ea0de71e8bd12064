import { CONVERSION } from '../../proto/load.js';
import type { FuzzWorld } from './fuzz-world.js';
import type { FuzzMethod } from './schema.js';

/**
 * The fuzz tests that nothing a peer sends breaks a server, not that an
 * authorised peer cannot do what it is authorised to do. A request that
 * decodes to a well-formed order to change the reference data (its files,
 * inodes, chunks), the real chunkservers' or the Raft members' state would,
 * if obeyed, be correct behaviour and still fail the checks at the end; so
 * such a request is replaced before it is sent. Anything that does not
 * decode, or names only the sandbox, goes out unchanged.
 */

/** Read-only methods: nothing they are sent can change state. */
const READ_ONLY = new Set([
  'Stat', 'List', 'GetChunks', 'GetClusterInfo', 'ReadBatch', 'Lookup', 'StatInode', 'ReadDir', 'Readlink',
  'ListChunkservers', 'ClusterHealth', 'RaftStatus', 'Fsck', 'RebalanceStatus', 'ClusterView', 'DistributionStatus', 'Read',
]);

/** Fields that name an inode, a chunk, a server or a Raft member. */
const ID_FIELDS = new Set(['inode', 'parent', 'newParent', 'handle', 'id', 'serverId', 'node', 'failedServerIds', 'cancel', 'removed', 'extendedLeases', 'voters', 'learners']);
const PATH_FIELDS = new Set(['path', 'source', 'destination', 'filePath']);
const NAME_FIELDS = new Set(['name', 'newName']);

/** Why `frame` must not be sent to `method`, or undefined when it may. */
export function harmfulReason(method: FuzzMethod, frame: Buffer, world: FuzzWorld): string | undefined {
  if (READ_ONLY.has(method.name) && method.service !== 'dfs.raft.RaftTransport') return undefined;
  let decoded: Record<string, unknown>;
  try {
    decoded = method.requestType.toObject(method.requestType.decode(frame), CONVERSION) as Record<string, unknown>;
  } catch {
    return undefined; // the server cannot decode it either
  }
  if (method.fullName === 'dfs.master.Admin.AddMaster') {
    // A member that never starts still counts towards the quorum: enough of them stop the group.
    const address = String(decoded.address ?? '');
    return /^[^:]*:\d+$/.test(address) ? 'adds a Raft member' : undefined;
  }
  if (method.service === 'dfs.raft.RaftTransport') return raftHarm(decoded, world);
  const protectedIds = new Set([...world.protectedInodes, ...world.protectedHandles, ...world.chunkservers.map((s) => s.id), ...world.chunkservers.map((s) => s.address), ...world.masters.map((m) => m.id), ...world.masters.map((m) => m.address)]);
  return walk(decoded, (field, value) => {
    if (typeof value !== 'string') return undefined;
    if (ID_FIELDS.has(field) && protectedIds.has(value)) return `names ${field} ${value}`;
    if (PATH_FIELDS.has(field) && (value === world.protectedPathPrefix || value.startsWith(`${world.protectedPathPrefix}/`))) return `names ${value}`;
    if (NAME_FIELDS.has(field) && value === world.protectedName) return `names entry ${value}`;
    return undefined;
  });
}

/**
 * A Raft message to a real member is protocol, not input to refuse: one of a
 * higher term makes it step down or vote. Only stale terms go through (a member
 * must ignore them), and anything to someone else (it must refuse it).
 */
function raftHarm(decoded: Record<string, unknown>, world: FuzzWorld): string | undefined {
  const ids = new Set(world.masters.map((m) => m.id));
  return walk(decoded, (field, value, parent) => {
    if (field === 'to' && typeof value === 'string' && ids.has(value)) {
      const term = Number(parent.term ?? 0);
      if (!(term < world.raftTerm)) return `raft message of term ${String(parent.term)} to member ${value}`;
    }
    return undefined;
  });
}

function walk(
  value: unknown,
  check: (field: string, value: unknown, parent: Record<string, unknown>) => string | undefined,
): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const r = walk(v, check);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || value instanceof Uint8Array) return undefined;
  const record = value as Record<string, unknown>;
  for (const [field, v] of Object.entries(record)) {
    const values = Array.isArray(v) ? v : [v];
    for (const item of values) {
      const r = check(field, item, record);
      if (r !== undefined) return r;
    }
    const r = walk(v, check);
    if (r !== undefined) return r;
  }
  return undefined;
}
