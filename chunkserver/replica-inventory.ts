import type { ChunkHandle, ChunkVersion } from '../common/ids.js';
import { InventoryDigest } from '../common/inventory-digest.js';
import type { ChunkStore } from './chunk-store.js';
import type { Lineage } from './lineage.js';

export interface InventoryReport {
  changed: { handle: ChunkHandle; version: ChunkVersion; length: number }[];
  removed: ChunkHandle[];
}

/**
 * Every change to the set of replicas this server offers goes through here,
 * so that heartbeats report exactly the changes since the master last
 * acknowledged one, and the digest always matches list().
 */
export class ReplicaInventory {
  private readonly digest = new InventoryDigest();
  private readonly offered = new Map<ChunkHandle, ChunkVersion>();
  private readonly changed = new Map<ChunkHandle, ChunkVersion>();
  private readonly removed = new Set<ChunkHandle>();

  constructor(private readonly store: ChunkStore) {
    for (const r of store.list()) this.offer(r.handle, r.version);
  }

  async createEmpty(handle: ChunkHandle): Promise<void> {
    await this.store.create(handle, 0 as ChunkVersion);
    this.offer(handle, 0 as ChunkVersion);
  }

  async commitVersion(handle: ChunkHandle, current: ChunkVersion, version: ChunkVersion, length: number): Promise<void> {
    await this.store.setVersion(handle, current, version, length);
    this.offer(handle, version);
  }

  async finishImport(handle: ChunkHandle, version: ChunkVersion, lineage: Lineage): Promise<void> {
    await this.store.finishImport(handle, lineage);
    this.offer(handle, version);
  }

  /** Offers again a whole replica that was withdrawn to become the base of a fetch that did not happen. */
  reoffer(handle: ChunkHandle): void {
    const info = this.store.info(handle);
    if (info === undefined || info.importing || info.corrupt) return;
    this.offer(handle, info.version);
  }

  async remove(handle: ChunkHandle): Promise<void> {
    await this.store.delete(handle);
    this.withdraw(handle);
  }

  /** The replica is no longer offered (found corrupt) though its file may linger. */
  withdraw(handle: ChunkHandle): void {
    const version = this.offered.get(handle);
    if (version === undefined) return;
    this.digest.toggle(handle, version);
    this.offered.delete(handle);
    this.changed.delete(handle);
    this.removed.add(handle);
  }

  private offer(handle: ChunkHandle, version: ChunkVersion): void {
    const previous = this.offered.get(handle);
    if (previous !== undefined) this.digest.toggle(handle, previous);
    this.digest.toggle(handle, version);
    this.offered.set(handle, version);
    this.changed.set(handle, version);
    this.removed.delete(handle);
  }

  version(handle: ChunkHandle): ChunkVersion | undefined {
    return this.offered.get(handle);
  }

  /** Changes not yet acknowledged by the master. */
  pending(): InventoryReport {
    return {
      changed: [...this.changed].map(([handle, version]) => ({
        handle,
        version,
        length: this.store.info(handle)?.durableLength ?? 0,
      })),
      removed: [...this.removed],
    };
  }

  /** The master has these; later changes stay pending. */
  acknowledge(report: InventoryReport): void {
    for (const c of report.changed) {
      if (this.changed.get(c.handle) === c.version) this.changed.delete(c.handle);
    }
    for (const handle of report.removed) {
      if (!this.offered.has(handle)) this.removed.delete(handle);
    }
  }

  /** Everything, for a full report; the master's mirror is replaced, so nothing stays pending. */
  full(): InventoryReport['changed'] {
    this.changed.clear();
    this.removed.clear();
    return [...this.offered].map(([handle, version]) => ({
      handle,
      version,
      length: this.store.info(handle)?.durableLength ?? 0,
    }));
  }

  digestString(): string {
    return this.digest.toString();
  }

  count(): number {
    return this.offered.size;
  }
}
