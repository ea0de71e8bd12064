import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { ChunkLocations } from './chunk-locations.js';
import type { ChunkserverRegistry } from './chunkserver-registry.js';
import type { NodeAdminState } from './node-states.js';

/** What the leader knows of one reported replica. */
export interface ReplicaFacts {
  server: ServerId;
  version: ChunkVersion;
  /** Its server heartbeats. */
  alive: boolean;
  /** Found corrupt, failed in a pipeline, or ordered deleted: never handed out again. */
  condemned: boolean;
  adminState: NodeAdminState;
}

/**
 * A chunk's replicas sorted by what they are worth. Only `counted` replicas
 * count toward the goal; `draining` and `released` ones are still read and
 * copied from. `down` replicas (a server in maintenance that stopped) are
 * neither lost nor usable.
 */
export interface ReplicaClasses {
  /** Usable, on an active server or one in maintenance. */
  counted: ServerId[];
  /** Usable, on a decommissioning server: kept until the server is released. */
  draining: ServerId[];
  /** Usable, on a decommissioned server: deleted once the chunk has its goal. */
  released: ServerId[];
  /** Current, on a server in maintenance that is down. */
  down: ServerId[];
  /** Below the confirmed version. */
  stale: ServerId[];
  condemned: ServerId[];
}

/** Pure: sorts the replicas of a chunk whose confirmed version is `confirmed`. */
export function classifyReplicas(replicas: Iterable<ReplicaFacts>, confirmed: ChunkVersion): ReplicaClasses {
  const out: ReplicaClasses = { counted: [], draining: [], released: [], down: [], stale: [], condemned: [] };
  for (const r of replicas) {
    if (r.condemned) out.condemned.push(r.server);
    else if (r.version < confirmed) out.stale.push(r.server);
    else if (!r.alive) {
      // A dead server's replicas are forgotten unless it is in maintenance (see master-node.ts).
      if (r.adminState === 'maintenance') out.down.push(r.server);
    } else if (r.adminState === 'decommissioning') out.draining.push(r.server);
    else if (r.adminState === 'decommissioned') out.released.push(r.server);
    else out.counted.push(r.server);
  }
  return out;
}

export type ChunkHealth = 'healthy' | 'under-replicated' | 'over-replicated' | 'unavailable' | 'missing';

/**
 * Missing: no replica is known anywhere. Unavailable: replicas are known but
 * none can be read. Otherwise the counted replicas against the goal.
 */
export function chunkHealth(classes: ReplicaClasses, goal: number): ChunkHealth {
  const readable = classes.counted.length + classes.draining.length + classes.released.length;
  if (readable === 0) {
    const known = classes.down.length + classes.stale.length + classes.condemned.length;
    return known === 0 ? 'missing' : 'unavailable';
  }
  if (classes.counted.length < goal) return 'under-replicated';
  if (classes.counted.length > goal) return 'over-replicated';
  return 'healthy';
}

/** Whether losing this chunk's data is possible right now: nothing readable. */
export function atRisk(health: ChunkHealth): boolean {
  return health === 'missing' || health === 'unavailable';
}

/** What the leader knows that replica classes and goals are derived from. */
export interface ReplicaKnowledge {
  readonly locations: Pick<ChunkLocations, 'holders' | 'isCondemned'>;
  readonly registry: Pick<ChunkserverRegistry, 'all' | 'isAlive'>;
  nodeState(server: ServerId): NodeAdminState;
}

/** The replicas of a chunk, as the leader knows them, by what they are worth. */
export function replicaClassesOf(known: ReplicaKnowledge, handle: ChunkHandle, confirmed: ChunkVersion): ReplicaClasses {
  const facts = [...known.locations.holders(handle)].map(([server, version]) => ({
    server,
    version,
    alive: known.registry.isAlive(server),
    condemned: known.locations.isCondemned(server, handle),
    adminState: known.nodeState(server),
  }));
  return classifyReplicas(facts, confirmed);
}

/**
 * Replicas a chunk should have on servers that count: its count. For a file
 * with replication `all` that count is its durable tier; every other active
 * server gets a distribution replica (distribution-manager.ts), never
 * trimmed as surplus. Undefined for a chunk that no longer exists.
 */
export function replicaGoal(goal: { replication: number; all: boolean } | undefined): number | undefined {
  if (goal === undefined) return undefined;
  // For `all` this is the durable tier (the lease's participants); the distribution tier spreads it further as soft state.
  return Math.min(goal.replication, LIMITS.replicationMax);
}

/**
 * Replicas a file with replication `all` wants in all, both tiers: every
 * live active server and every server in maintenance (for views: the chunk
 * map shows how far the file is from being everywhere).
 */
export function everyNodeGoal(known: ReplicaKnowledge): number {
  let eligible = 0;
  for (const s of known.registry.all()) {
    const state = known.nodeState(s.id);
    if (state === 'maintenance' || (state === 'active' && s.alive)) eligible++;
  }
  return eligible;
}
