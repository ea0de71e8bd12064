import type { ServerId } from '../common/ids.js';

/** What the leader knows about one chunkserver: soft state, rebuilt from heartbeats after failover. */
export interface ChunkserverRecord {
  id: ServerId;
  address: string;
  zone: string;
  rack: string;
  capacityBytes: number;
  usedBytes: number;
  load: { activeReads: number; activeWrites: number; activeCopies: number };
  lastHeartbeatMs: number;
  alive: boolean;
  /** A call to it failed to connect: no new work goes there until it heartbeats again. */
  unreachableUntilMs: number;
  chunkCount: number;
}

export interface ServerLabels {
  address: string;
  zone: string;
  rack: string;
}

/**
 * Chunkserver liveness and load. Pure: every time is an argument. A server is
 * alive from its registration until `timeoutMs` passes without a heartbeat.
 */
export class ChunkserverRegistry {
  private readonly servers = new Map<ServerId, ChunkserverRecord>();

  constructor(private readonly timeoutMs: number) {}

  register(id: ServerId, labels: ServerLabels, capacityBytes: number, usedBytes: number, nowMs: number): ChunkserverRecord {
    const record: ChunkserverRecord = {
      id,
      ...labels,
      capacityBytes,
      usedBytes,
      load: { activeReads: 0, activeWrites: 0, activeCopies: 0 },
      lastHeartbeatMs: nowMs,
      alive: true,
      unreachableUntilMs: 0,
      chunkCount: 0,
    };
    this.servers.set(id, record);
    return record;
  }

  /** Returns false for a server this leader does not know (it must register). */
  heartbeat(
    id: ServerId,
    report: { capacityBytes: number; usedBytes: number; load: ChunkserverRecord['load']; chunkCount: number },
    nowMs: number,
  ): boolean {
    const record = this.servers.get(id);
    if (record === undefined || !record.alive) return false;
    record.capacityBytes = report.capacityBytes;
    record.usedBytes = report.usedBytes;
    record.load = report.load;
    record.chunkCount = report.chunkCount;
    record.lastHeartbeatMs = nowMs;
    record.unreachableUntilMs = 0;
    return true;
  }

  /** A connection to the server failed: keep new chunks and copies away from it for a while. */
  markUnreachable(id: ServerId, nowMs: number): void {
    const record = this.servers.get(id);
    if (record !== undefined) record.unreachableUntilMs = nowMs + this.timeoutMs;
  }

  /** Live servers that can take new replicas now. */
  placeable(nowMs: number): ChunkserverRecord[] {
    return this.live().filter((s) => s.unreachableUntilMs <= nowMs);
  }

  /** Marks servers dead whose heartbeats stopped; returns them. */
  expire(nowMs: number): ChunkserverRecord[] {
    const died: ChunkserverRecord[] = [];
    for (const record of this.servers.values()) {
      if (record.alive && nowMs - record.lastHeartbeatMs > this.timeoutMs) {
        record.alive = false;
        died.push(record);
      }
    }
    return died;
  }

  get(id: ServerId): ChunkserverRecord | undefined {
    return this.servers.get(id);
  }

  isAlive(id: ServerId): boolean {
    return this.servers.get(id)?.alive === true;
  }

  live(): ChunkserverRecord[] {
    return [...this.servers.values()].filter((s) => s.alive);
  }

  all(): ChunkserverRecord[] {
    return [...this.servers.values()];
  }
}
