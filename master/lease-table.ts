import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';

export interface LeaseRecord {
  handle: ChunkHandle;
  version: ChunkVersion;
  primary: ServerId;
  /** Pipeline order after the primary. */
  secondaries: ServerId[];
  expiresAtMs: number;
  /** Set when the chunk needs work that a lease would block (a copy): let it lapse. */
  noExtend: boolean;
}

/**
 * Chunk leases as the leader grants them: soft state. Pure: every time is an
 * argument. A lease counts as held until `expiresAtMs` on the master's
 * clock, which the grant flow sets from the moment the primary's answer
 * arrived, so it always ends after the primary's own view of it
 * (the primary counts from when it received the grant).
 *
 * A chunk whose lease is being granted counts as leased: from the version
 * bump to the lease's record, a replica copied at the new version would be
 * taken for current yet miss every write of the lease.
 */
export class LeaseTable {
  private readonly leases = new Map<ChunkHandle, LeaseRecord>();
  private readonly granting = new Set<ChunkHandle>();
  /** No lease may be granted before this: a new leader waits out leases it cannot know of. */
  private grantsAllowedFromMs: number;

  constructor(startMs: number, longestLeaseMs: number) {
    this.grantsAllowedFromMs = startMs + longestLeaseMs;
  }

  acceptingGrants(nowMs: number): boolean {
    return nowMs >= this.grantsAllowedFromMs;
  }

  /** Waits out every lease a previous leader may have granted. */
  fence(nowMs: number, longestLeaseMs: number): void {
    this.grantsAllowedFromMs = nowMs + longestLeaseMs;
    this.leases.clear();
  }

  current(handle: ChunkHandle, nowMs: number): LeaseRecord | undefined {
    const lease = this.leases.get(handle);
    if (lease === undefined) return undefined;
    if (lease.expiresAtMs <= nowMs) {
      this.leases.delete(handle);
      return undefined;
    }
    return lease;
  }

  record(lease: Omit<LeaseRecord, 'noExtend'>): LeaseRecord {
    const record = { ...lease, noExtend: false };
    this.leases.set(lease.handle, record);
    return record;
  }

  /** Extends a lease its primary asked to keep; false if it is not (or no longer) that primary's. */
  extend(handle: ChunkHandle, primary: ServerId, version: ChunkVersion, nowMs: number, durationMs: number): boolean {
    const lease = this.current(handle, nowMs);
    if (lease === undefined || lease.primary !== primary || lease.version !== version || lease.noExtend) return false;
    lease.expiresAtMs = nowMs + durationMs;
    return true;
  }

  /** The primary gave the lease up (its pipeline broke): a new one may be granted at once. */
  release(handle: ChunkHandle, version: ChunkVersion): void {
    const lease = this.leases.get(handle);
    if (lease !== undefined && lease.version === version) this.leases.delete(handle);
  }

  stopExtending(handle: ChunkHandle): void {
    const lease = this.leases.get(handle);
    if (lease !== undefined) lease.noExtend = true;
  }

  /** A lease on the chunk is being granted, until endGrant(). */
  beginGrant(handle: ChunkHandle): void {
    this.granting.add(handle);
  }

  endGrant(handle: ChunkHandle): void {
    this.granting.delete(handle);
  }

  isGranting(handle: ChunkHandle): boolean {
    return this.granting.has(handle);
  }

  /** Held, or being granted: either way no copy may start and no replica may be trimmed. */
  isLeased(handle: ChunkHandle, nowMs: number): boolean {
    return this.granting.has(handle) || this.current(handle, nowMs) !== undefined;
  }

  size(): number {
    return this.leases.size;
  }

  /** Leases not yet expired at `nowMs` (size() also counts expired ones not yet looked at). */
  heldCount(nowMs: number): number {
    let held = 0;
    for (const lease of this.leases.values()) if (lease.expiresAtMs > nowMs) held++;
    return held;
  }
}
