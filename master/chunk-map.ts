import { isDfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { AttrView } from './attr.js';
import type { ChunkLocations } from './chunk-locations.js';
import type { ChunkserverRecord, ChunkserverRegistry } from './chunkserver-registry.js';
import { comparePlacement, nodeState, VIEW_LIMITS, type NodeState } from './cluster-view.js';
import { findDefaultFile } from './default-file.js';
import type { LeaseTable } from './lease-table.js';
import type { ReplicaClasses } from './replica-classes.js';
import type { ReplicationManager } from './replication-manager.js';
import type { MasterStateMachine } from './state-machine.js';

/**
 * One replica's state in a chunk map cell (the leader's replica classes,
 * replica-classes.ts), one character each so that a row of many nodes
 * stays small:
 * - `P` readable, and the primary of the chunk's current lease;
 * - `C` counted toward the goal: live, current, on an active node (or one in maintenance);
 * - `R` readable but leaving: on a decommissioning or decommissioned node;
 * - `S` stale: below the confirmed version (never read, to be collected);
 * - `X` condemned: ordered deleted or found corrupt;
 * - `D` on a node that is not alive (down for maintenance, or dead and about to be forgotten);
 * - `.` the node holds no replica.
 */
export const CELL = { primary: 'P', counted: 'C', leaving: 'R', stale: 'S', condemned: 'X', down: 'D', none: '.' } as const;
export type CellCode = (typeof CELL)[keyof typeof CELL];

/**
 * Which nodes hold which chunks of one file: a page of chunk rows against a
 * bounded set of node columns. Fleet distribution (DESIGN §6) extends this
 * view: its per-node progress (blocks received, in flight, verified) will be
 * further cell states and a per-node column summary; today only placed
 * replicas exist to show, and `coverage` is how far the file is from its goal.
 */
export type ChunkMapView = FileChunkMap | NoChunkMap;

export interface NoChunkMap {
  kind: 'none';
  /** The path asked for; empty when the default was wanted and no file holds data. */
  requestedPath: string;
  reason: string;
}

export interface FileChunkMap {
  kind: 'file';
  path: string;
  /** Asked for by path, or picked as the default (see default-file.ts). */
  chosen: 'requested' | 'largest-replicate-all' | 'largest';
  /** For a default pick: whether the whole namespace was searched. */
  searchComplete: boolean;
  inode: number;
  sizeBytes: number;
  replication: number;
  replicateAll: boolean;
  /** Chunk slots, holes included. */
  chunkSlots: number;
  /** Replicas wanted per chunk (leader.goalOf): the replication goal, or for "all" every live active node and every node in maintenance. */
  goal: number;
  /** Counted replicas (up to the goal) against wanted ones, over the file's first `countedChunks` chunks (VIEW_LIMITS.coverageChunksMax). */
  coverage: { countedChunks: number; countedReplicas: number; wantedReplicas: number; chunksBelowGoal: number };
  /** The columns, in zone, rack, address order. */
  nodes: { id: string; address: string; zone: string; rack: string; state: NodeState }[];
  /** Nodes not shown as columns. */
  moreNodes: number;
  /** The chunk index this page starts at. */
  firstChunk: number;
  /** Chunk slots one page spans (holes have no row). */
  pageSlots: number;
  rows: ChunkRow[];
  /** Chunk slots after this page. */
  moreChunksAfter: number;
}

export interface ChunkRow {
  index: number;
  handle: number;
  version: number;
  confirmedVersion: number;
  /** Replicas counted toward the goal, on any node, shown as a column or not. */
  counted: number;
  /** Replicas reported by any node, whatever their state. */
  held: number;
  /** A re-replication copy of this chunk is in flight. */
  copying: boolean;
  /** One CellCode per node column. */
  cells: string;
}

/** What the chunk map reads of the leader's soft state; LeaderState is one. */
export interface ReplicaSources {
  readonly locations: Pick<ChunkLocations, 'holders'>;
  readonly registry: Pick<ChunkserverRegistry, 'all'>;
  readonly leases: Pick<LeaseTable, 'current'>;
  readonly replication: Pick<ReplicationManager, 'isCopying'>;
  replicaClasses(handle: ChunkHandle, confirmed: ChunkVersion): ReplicaClasses;
  goalOf(handle: ChunkHandle): number | undefined;
}

export type FileFacts = Pick<MasterStateMachine, 'stat' | 'getChunks' | 'chunk' | 'list'>;

export interface ChunkMapRequest {
  /** A canonical absolute path, or empty for the default file. */
  path: string;
  firstChunk: number;
}

/** The chunk map of the file asked for (or the default one). Pure: reads state, changes none. */
export function buildChunkMap(files: FileFacts, replicas: ReplicaSources, request: ChunkMapRequest, nowMs: number): ChunkMapView {
  let path = request.path;
  let attr: AttrView;
  let chosen: FileChunkMap['chosen'] = 'requested';
  let searchComplete = true;
  if (path === '') {
    const found = findDefaultFile(files, VIEW_LIMITS.defaultFileEntriesMax);
    if (found === undefined) return { kind: 'none', requestedPath: '', reason: 'no file holds any data yet' };
    ({ path, attr, chosen } = found);
    searchComplete = found.complete;
  } else {
    try {
      attr = files.stat(path);
    } catch (err) {
      if (!isDfsError(err)) throw err;
      return { kind: 'none', requestedPath: path, reason: err.message };
    }
    if (attr.kind !== 'file') return { kind: 'none', requestedPath: path, reason: `${path} is a ${attr.kind}, not a file` };
  }

  const servers = replicas.registry.all();
  const firstChunk = Math.min(request.firstChunk, Math.max(0, attr.chunkCount - 1));
  const page = files.getChunks(attr.inode, firstChunk, VIEW_LIMITS.chunkRowsMax).chunks;

  const classified = page.map((c) => {
    const info = files.chunk(c.handle);
    const confirmed = (info?.confirmedVersion ?? 0) as ChunkVersion;
    return { chunk: c, confirmed, cells: classify(replicas, c.handle, confirmed, nowMs) };
  });
  const columns = pickColumns(servers, classified.map((c) => c.cells), nowMs);
  const rows: ChunkRow[] = classified.map(({ chunk, confirmed, cells }) => {
    return {
      index: chunk.index,
      handle: chunk.handle,
      version: chunk.version,
      confirmedVersion: confirmed,
      counted: replicas.replicaClasses(chunk.handle, confirmed).counted.length,
      held: cells.size,
      copying: replicas.replication.isCopying(chunk.handle),
      cells: columns.map((s) => cells.get(s.id) ?? CELL.none).join(''),
    };
  });

  const coverage = coverageOf(files, replicas, attr);
  return {
    kind: 'file',
    path,
    chosen,
    searchComplete,
    inode: attr.inode,
    sizeBytes: attr.size,
    replication: attr.replication,
    replicateAll: attr.replicateAll,
    chunkSlots: attr.chunkCount,
    goal: coverage.goal,
    coverage: coverage.figures,
    nodes: columns.map((s) => ({ id: s.id, address: s.address, zone: s.zone, rack: s.rack, state: nodeState(s, nowMs) })),
    moreNodes: servers.length - columns.length,
    firstChunk,
    pageSlots: VIEW_LIMITS.chunkRowsMax,
    rows,
    moreChunksAfter: Math.max(0, attr.chunkCount - (firstChunk + VIEW_LIMITS.chunkRowsMax)),
  };
}

/** The state of every reported replica of a chunk, by server. */
function classify(replicas: ReplicaSources, handle: ChunkHandle, confirmed: ChunkVersion, nowMs: number): Map<ServerId, CellCode> {
  const out = new Map<ServerId, CellCode>();
  const primary = replicas.leases.current(handle, nowMs)?.primary;
  const classes = replicas.replicaClasses(handle, confirmed);
  for (const server of classes.counted) out.set(server, server === primary ? CELL.primary : CELL.counted);
  for (const server of [...classes.draining, ...classes.released]) out.set(server, server === primary ? CELL.primary : CELL.leaving);
  for (const server of classes.down) out.set(server, CELL.down);
  for (const server of classes.stale) out.set(server, CELL.stale);
  for (const server of classes.condemned) out.set(server, CELL.condemned);
  // A dead server's replicas belong to no class until the leader forgets them.
  for (const server of replicas.locations.holders(handle).keys()) if (!out.has(server)) out.set(server, CELL.down);
  return out;
}

/**
 * Every node when they fit; otherwise the nodes holding most of this page's
 * replicas, then other live nodes (where copies can go), up to the bound.
 */
function pickColumns(servers: readonly ChunkserverRecord[], pageCells: readonly Map<ServerId, CellCode>[], nowMs: number): ChunkserverRecord[] {
  let picked = [...servers];
  if (picked.length > VIEW_LIMITS.chunkColumnsMax) {
    const held = new Map<ServerId, number>();
    for (const cells of pageCells) for (const server of cells.keys()) held.set(server, (held.get(server) ?? 0) + 1);
    const rank = (s: ChunkserverRecord) => (held.get(s.id) ?? 0) * 2 + (nodeState(s, nowMs) === 'live' ? 1 : 0);
    picked = picked.sort((a, b) => rank(b) - rank(a)).slice(0, VIEW_LIMITS.chunkColumnsMax);
  }
  return picked.sort(comparePlacement);
}

/**
 * Counted replicas against the goal over the file's first chunks, a page of
 * getChunks at a time. Every chunk has its owner's goal, so the leader's
 * goal for the first chunk is the file's (for a file without chunks, the
 * replication asked for, "all" counting 0).
 */
function coverageOf(files: FileFacts, replicas: ReplicaSources, attr: AttrView): { goal: number; figures: FileChunkMap['coverage'] } {
  const figures = { countedChunks: 0, countedReplicas: 0, wantedReplicas: 0, chunksBelowGoal: 0 };
  let goal: number | undefined;
  const end = Math.min(attr.chunkCount, VIEW_LIMITS.coverageChunksMax);
  for (let first = 0; first < end; first += LIMITS.chunksPageMax) {
    for (const c of files.getChunks(attr.inode, first, Math.min(LIMITS.chunksPageMax, end - first)).chunks) {
      goal ??= replicas.goalOf(c.handle) ?? 0;
      const confirmed = (files.chunk(c.handle)?.confirmedVersion ?? 0) as ChunkVersion;
      const counted = replicas.replicaClasses(c.handle, confirmed).counted.length;
      figures.countedChunks++;
      figures.countedReplicas += Math.min(counted, goal);
      figures.wantedReplicas += goal;
      if (counted < goal) figures.chunksBelowGoal++;
    }
  }
  return { goal: goal ?? (attr.replicateAll ? 0 : Math.min(attr.replication, LIMITS.replicationMax)), figures };
}
