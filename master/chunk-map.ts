import { isDfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { AttrView, ChunkView } from './attr.js';
import type { ChunkLocations } from './chunk-locations.js';
import type { ChunkserverRecord, ChunkserverRegistry } from './chunkserver-registry.js';
import { comparePlacement, nodeState, VIEW_LIMITS, type NodeState, type ViewLimits } from './cluster-view.js';
import { findDefaultFile } from './default-file.js';
import type { LeaseTable } from './lease-table.js';
import type { NodeAdminState } from './node-states.js';
import { classifyReplicas, everyNodeGoal, type ReplicaClasses } from './replica-classes.js';
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
  /** Replicas wanted per chunk: the replication goal (leader.goalOf), or for "all" every live active node and every node in maintenance (both tiers). */
  goal: number;
  /**
   * Counted replicas (up to the goal) against wanted ones, over the file's
   * first `countedChunks` chunks: all of them unless the file has more than
   * VIEW_LIMITS.coverageChunksMax, or they hold more than coverageReplicasMax replicas.
   */
  coverage: { countedChunks: number; countedReplicas: number; wantedReplicas: number; chunksBelowGoal: number; partial: boolean };
  /** The columns, in zone, rack, address order. */
  nodes: { id: string; address: string; zone: string; rack: string; state: NodeState }[];
  /** Nodes not shown as columns. */
  moreNodes: number;
  /** The chunk index this page starts at. */
  firstChunk: number;
  /** Chunk slots this page spans (holes have no row): VIEW_LIMITS.chunkRowsMax, fewer when its chunks' replicas reach pageReplicasMax. */
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
  readonly locations: Pick<ChunkLocations, 'holders' | 'isCondemned'>;
  readonly registry: Pick<ChunkserverRegistry, 'all' | 'isAlive'>;
  readonly leases: Pick<LeaseTable, 'current'>;
  readonly replication: Pick<ReplicationManager, 'isCopying'>;
  nodeState(server: ServerId): NodeAdminState;
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
export function buildChunkMap(
  files: FileFacts,
  replicas: ReplicaSources,
  request: ChunkMapRequest,
  nowMs: number,
  limits: ViewLimits = VIEW_LIMITS,
): ChunkMapView {
  let path = request.path;
  let attr: AttrView;
  let chosen: FileChunkMap['chosen'] = 'requested';
  let searchComplete = true;
  if (path === '') {
    const found = findDefaultFile(files, limits.defaultFileEntriesMax);
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
  const fetched = files.getChunks(attr.inode, firstChunk, limits.chunkRowsMax).chunks;
  // Rows until the page's replicas reach their bound: a chunk on a whole fleet is a row of thousands.
  const page: { chunk: ChunkView; confirmed: ChunkVersion; holders: ReadonlyMap<ServerId, ChunkVersion> }[] = [];
  let pageReplicas = 0;
  for (const chunk of fetched) {
    const holders = replicas.locations.holders(chunk.handle);
    if (page.length > 0 && pageReplicas + holders.size > limits.pageReplicasMax) break;
    pageReplicas += holders.size;
    page.push({ chunk, confirmed: confirmedVersionOf(files, chunk.handle), holders });
  }
  const pageSlots = page.length < fetched.length ? page[page.length - 1]!.chunk.index + 1 - firstChunk : limits.chunkRowsMax;
  const columns = pickColumns(servers, page.map((p) => p.holders), nowMs, limits.chunkColumnsMax);
  const rows: ChunkRow[] = page.map(({ chunk, confirmed, holders }) => {
    const primary = replicas.leases.current(chunk.handle, nowMs)?.primary;
    return {
      index: chunk.index,
      handle: chunk.handle,
      version: chunk.version,
      confirmedVersion: confirmed,
      counted: replicas.replicaClasses(chunk.handle, confirmed).counted.length,
      held: holders.size,
      copying: replicas.replication.isCopying(chunk.handle),
      cells: columns.map((s) => cellOf(replicas, chunk.handle, confirmed, s.id, holders.get(s.id), primary)).join(''),
    };
  });

  const coverage = coverageOf(files, replicas, attr, limits);
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
    pageSlots,
    rows,
    moreChunksAfter: Math.max(0, attr.chunkCount - (firstChunk + pageSlots)),
  };
}

/**
 * The state of one node's replica of a chunk, as the leader classes it
 * (replica-classes.ts): the one replica alone, so that a row costs its
 * columns, not every holder of the chunk.
 */
function cellOf(
  replicas: ReplicaSources,
  handle: ChunkHandle,
  confirmed: ChunkVersion,
  server: ServerId,
  version: ChunkVersion | undefined,
  primary: ServerId | undefined,
): CellCode {
  if (version === undefined) return CELL.none;
  const fact = {
    server,
    version,
    alive: replicas.registry.isAlive(server),
    condemned: replicas.locations.isCondemned(server, handle),
    adminState: replicas.nodeState(server),
  };
  const classes = classifyReplicas([fact], confirmed);
  if (classes.counted.length > 0) return server === primary ? CELL.primary : CELL.counted;
  if (classes.draining.length > 0 || classes.released.length > 0) return server === primary ? CELL.primary : CELL.leaving;
  if (classes.stale.length > 0) return CELL.stale;
  if (classes.condemned.length > 0) return CELL.condemned;
  // Down in maintenance, or on a dead server and in no class until the leader forgets it.
  return CELL.down;
}

/**
 * Every node when they fit; otherwise the nodes holding most of this page's
 * replicas, then other live nodes (where copies can go), up to the bound.
 */
function pickColumns(
  servers: readonly ChunkserverRecord[],
  pageHolders: readonly ReadonlyMap<ServerId, ChunkVersion>[],
  nowMs: number,
  columnsMax: number,
): ChunkserverRecord[] {
  let picked = [...servers];
  if (picked.length > columnsMax) {
    const held = new Map<ServerId, number>();
    for (const holders of pageHolders) for (const server of holders.keys()) held.set(server, (held.get(server) ?? 0) + 1);
    const rank = (s: ChunkserverRecord) => (held.get(s.id) ?? 0) * 2 + (nodeState(s, nowMs) === 'live' ? 1 : 0);
    picked = picked.sort((a, b) => rank(b) - rank(a)).slice(0, columnsMax);
  }
  return picked.sort(comparePlacement);
}

/**
 * Counted replicas against the goal over the file's first chunks, a page of
 * getChunks at a time. Every chunk has its owner's goal, so the leader's
 * goal for the first chunk is the file's (for a file without chunks, the
 * replication asked for, "all" counting 0).
 */
function coverageOf(files: FileFacts, replicas: ReplicaSources, attr: AttrView, limits: ViewLimits): { goal: number; figures: FileChunkMap['coverage'] } {
  const figures = { countedChunks: 0, countedReplicas: 0, wantedReplicas: 0, chunksBelowGoal: 0, partial: attr.chunkCount > limits.coverageChunksMax };
  let goal: number | undefined;
  let replicasSeen = 0;
  const end = Math.min(attr.chunkCount, limits.coverageChunksMax);
  pages: for (let first = 0; first < end; first += LIMITS.chunksPageMax) {
    for (const c of files.getChunks(attr.inode, first, Math.min(LIMITS.chunksPageMax, end - first)).chunks) {
      replicasSeen += replicas.locations.holders(c.handle).size;
      if (replicasSeen > limits.coverageReplicasMax && figures.countedChunks > 0) {
        figures.partial = true;
        break pages;
      }
      goal ??= attr.replicateAll ? everyNodeGoal(replicas) : (replicas.goalOf(c.handle) ?? 0);
      const counted = replicas.replicaClasses(c.handle, confirmedVersionOf(files, c.handle)).counted.length;
      figures.countedChunks++;
      figures.countedReplicas += Math.min(counted, goal);
      figures.wantedReplicas += goal;
      if (counted < goal) figures.chunksBelowGoal++;
    }
  }
  return { goal: goal ?? (attr.replicateAll ? 0 : Math.min(attr.replication, LIMITS.replicationMax)), figures };
}

/** The chunk's confirmed version, 0 when the chunk table does not hold it. */
function confirmedVersionOf(files: FileFacts, handle: ChunkHandle): ChunkVersion {
  return (files.chunk(handle)?.confirmedVersion ?? 0) as ChunkVersion;
}
