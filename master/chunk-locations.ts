import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { InventoryDigest } from '../common/inventory-digest.js';

export interface ReplicaReport {
  handle: ChunkHandle;
  version: ChunkVersion;
}

interface ServerInventory {
  chunks: Map<ChunkHandle, ChunkVersion>;
  digest: InventoryDigest;
}

/**
 * Where the replicas are: a mirror of what every chunkserver says it holds
 * (soft state, as in GFS: never persisted, rebuilt from reports). The mirror
 * holds exactly what the server reported, so its digest matches the server's;
 * whether a replica is usable (current version, live server, not condemned)
 * is judged by the caller against the chunk table.
 */
export class ChunkLocations {
  private readonly byServer = new Map<ServerId, ServerInventory>();
  private readonly byChunk = new Map<ChunkHandle, Map<ServerId, ChunkVersion>>();
  /** Replicas the master has ordered deleted or found corrupt: never handed out again. */
  private readonly condemned = new Map<ChunkHandle, Set<ServerId>>();

  replaceInventory(server: ServerId, reports: readonly ReplicaReport[]): void {
    this.dropServer(server);
    const inventory: ServerInventory = { chunks: new Map(), digest: new InventoryDigest() };
    this.byServer.set(server, inventory);
    for (const r of reports) this.set(server, r.handle, r.version);
  }

  /** Records one replica as reported (added, or at a new version). */
  set(server: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
    let inventory = this.byServer.get(server);
    if (inventory === undefined) {
      inventory = { chunks: new Map(), digest: new InventoryDigest() };
      this.byServer.set(server, inventory);
    }
    const previous = inventory.chunks.get(handle);
    if (previous !== undefined) inventory.digest.toggle(handle, previous);
    inventory.chunks.set(handle, version);
    inventory.digest.toggle(handle, version);
    let holders = this.byChunk.get(handle);
    if (holders === undefined) {
      holders = new Map();
      this.byChunk.set(handle, holders);
    }
    holders.set(server, version);
    if (previous !== version) this.condemned.get(handle)?.delete(server);
  }

  /** The server reported that it no longer holds the replica. */
  remove(server: ServerId, handle: ChunkHandle): void {
    const inventory = this.byServer.get(server);
    const version = inventory?.chunks.get(handle);
    if (inventory !== undefined && version !== undefined) {
      inventory.digest.toggle(handle, version);
      inventory.chunks.delete(handle);
    }
    const holders = this.byChunk.get(handle);
    holders?.delete(server);
    if (holders?.size === 0) this.byChunk.delete(handle);
    const condemned = this.condemned.get(handle);
    condemned?.delete(server);
    if (condemned?.size === 0) this.condemned.delete(handle);
  }

  /** Forgets a server entirely (it died or re-registers); returns the chunks it held. */
  dropServer(server: ServerId): ChunkHandle[] {
    const inventory = this.byServer.get(server);
    if (inventory === undefined) return [];
    const handles = [...inventory.chunks.keys()];
    for (const handle of handles) this.remove(server, handle);
    this.byServer.delete(server);
    return handles;
  }

  condemn(server: ServerId, handle: ChunkHandle): void {
    let set = this.condemned.get(handle);
    if (set === undefined) {
      set = new Set();
      this.condemned.set(handle, set);
    }
    set.add(server);
  }

  isCondemned(server: ServerId, handle: ChunkHandle): boolean {
    return this.condemned.get(handle)?.has(server) === true;
  }

  /** Every reported replica of a chunk, usable or not. */
  holders(handle: ChunkHandle): ReadonlyMap<ServerId, ChunkVersion> {
    return this.byChunk.get(handle) ?? EMPTY;
  }

  /** Servers holding the chunk at exactly `version` and not condemned. */
  replicasAt(handle: ChunkHandle, version: ChunkVersion): ServerId[] {
    const out: ServerId[] = [];
    for (const [server, v] of this.holders(handle)) {
      if (v === version && !this.isCondemned(server, handle)) out.push(server);
    }
    return out;
  }

  inventory(server: ServerId): ReadonlyMap<ChunkHandle, ChunkVersion> {
    return this.byServer.get(server)?.chunks ?? EMPTY_INVENTORY;
  }

  digest(server: ServerId): string {
    return this.byServer.get(server)?.digest.toString() ?? new InventoryDigest().toString();
  }

  knowsServer(server: ServerId): boolean {
    return this.byServer.has(server);
  }

  chunkHandles(): IterableIterator<ChunkHandle> {
    return this.byChunk.keys();
  }
}

const EMPTY: ReadonlyMap<ServerId, ChunkVersion> = new Map();
const EMPTY_INVENTORY: ReadonlyMap<ChunkHandle, ChunkVersion> = new Map();
