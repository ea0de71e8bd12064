import { DfsError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { ChunkHandle, ChunkVersion, ClientId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { MaxCommitter } from '../common/max-committer.js';
import { encodeFrame } from '../proto/pipeline-frames.js';
import { lengthAfter, type ValidPacket } from './packet-validation.js';
import type { ReplicaPipeline } from './replica-pipeline.js';
import type { ChunkStore } from './chunk-store.js';

/**
 * This server's lease on one chunk: it decides the order of every mutation
 * of the chunk and, for record appends, the offset. Appends are serialised
 * by assigning offsets synchronously in arrival order; the pipeline then
 * carries them in that order to every replica. A retried append
 * (same client id and sequence) gets the offset it got the first time.
 * An append is answered once it is durable everywhere and the master has
 * grown the file's size over it; size commits of appends that finish
 * together are coalesced into one.
 *
 * A mutation is acknowledged only if it is durable everywhere before the
 * lease ends here, which is before it ends on the master. Once the master
 * sees no lease it may copy the chunk at this version, and the copy must
 * hold every acknowledged byte; a mutation durable too late fails with
 * LEASE_EXPIRED and its client retries it under a new lease.
 */
export class PrimaryChunk {
  private nextOffset: number;
  private full: boolean;
  private readonly inflight = new Map<string, Promise<number>>();
  private lastMutationMs: number;
  private readonly lengths: MaxCommitter;
  /** Mutations submitted and not yet settled. */
  private pending = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly store: ChunkStore,
    readonly handle: ChunkHandle,
    readonly version: ChunkVersion,
    readonly pipeline: ReplicaPipeline,
    length: number,
    private leaseExpiresAtMs: number,
    readonly leaseDurationMs: number,
    private readonly chunkSizeBytes: number,
    private readonly clock: Clock,
    commitLength: (length: number) => Promise<number>,
    private readonly idle: { releaseMs: number; onRelease: (primary: PrimaryChunk) => void } = { releaseMs: 0, onRelease: () => {} },
  ) {
    this.nextOffset = length;
    this.full = length >= chunkSizeBytes;
    this.lastMutationMs = clock.nowMs();
    // Starts from 0: the size may not yet cover what an earlier primary made durable.
    this.lengths = new MaxCommitter(0, async (end) => {
      await commitLength(end);
      return end;
    });
    this.armIdleRelease();
  }

  /**
   * Counts a mutation in flight: the lease is given up only after
   * `idle.releaseMs` with none in flight and none arriving, so every
   * mutation accepted before is acknowledged or failed by then.
   */
  private track<T>(mutation: Promise<T>): Promise<T> {
    this.pending++;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const settle = () => {
      if (--this.pending === 0) this.armIdleRelease();
    };
    mutation.then(settle, settle);
    return mutation;
  }

  private armIdleRelease(): void {
    if (this.idle.releaseMs <= 0 || this.released) return;
    this.idleTimer = setTimeout(() => {
      if (this.pending > 0 || this.released) return;
      this.released = true;
      this.leaseExpiresAtMs = 0;
      this.idle.onRelease(this);
    }, this.idle.releaseMs);
    this.idleTimer.unref();
  }

  /** From now on, give the lease up once idle for `ms` (the chunk's file was set to replication `all`). */
  releaseWhenIdle(ms: number): void {
    if (this.released || ms <= 0) return;
    this.idle.releaseMs = ms;
    if (this.pending === 0) {
      clearTimeout(this.idleTimer);
      this.armIdleRelease();
    }
  }

  /** The lease ended here for good (expired, released, or its pipeline was replaced): no timer outlives it. */
  close(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.released = true;
  }

  leaseValid(nowMs: number): boolean {
    return nowMs < this.leaseExpiresAtMs;
  }

  /** Throws unless this primary may still order mutations. */
  check(nowMs: number): void {
    if (this.pipeline.failed !== undefined) throw this.pipeline.failed;
    if (!this.leaseValid(nowMs)) {
      throw new DfsError('LEASE_EXPIRED', `lease on chunk ${this.handle} at version ${this.version} has expired`);
    }
  }

  /** A lease with mutations during the last `windowMs` is worth extending. */
  wantsExtension(nowMs: number, windowMs: number): boolean {
    return this.leaseValid(nowMs) && this.pipeline.failed === undefined && nowMs - this.lastMutationMs < windowMs;
  }

  extendLease(untilMs: number): void {
    this.leaseExpiresAtMs = Math.max(this.leaseExpiresAtMs, untilMs);
  }

  /** A WRITE or TRUNCATE from a client's stream, forwarded as received; resolves when it may be acknowledged. */
  submit(raw: Buffer, packet: ValidPacket, nowMs: number): Promise<void> {
    this.check(nowMs);
    this.lastMutationMs = nowMs;
    this.nextOffset = lengthAfter(packet, this.nextOffset);
    if (packet.kind === 'truncate') this.full = packet.length >= this.chunkSizeBytes;
    return this.track(this.pipeline.submit(raw, packet).then(() => this.checkLeaseHeld()));
  }

  private checkLeaseHeld(): void {
    if (!this.leaseValid(this.clock.nowMs())) {
      throw new DfsError('LEASE_EXPIRED', `lease on chunk ${this.handle} at version ${this.version} ended before the mutation was durable`);
    }
  }

  /** Record append: returns the offset of the record in this chunk. */
  append(clientId: ClientId, seq: number, data: Buffer, crc: number, nowMs: number): Promise<number> {
    // A broken pipeline first: a record it was carrying may be recorded here
    // yet missing downstream, so the local dedup table cannot vouch for it
    // until a new version has brought the replicas to a common length.
    if (this.pipeline.failed !== undefined) return Promise.reject(this.pipeline.failed);
    const key = `${clientId}:${seq}`;
    const inflight = this.inflight.get(key);
    if (inflight !== undefined) return inflight;
    // Before the dedup table: a record that landed after the lease ended may be missing from a copy.
    this.check(nowMs);
    const landed = this.store.findAppend(this.handle, clientId, seq);
    // The first attempt may have failed to commit the size: this one does.
    if (landed !== undefined) return this.lengths.ensure(landed.offset + landed.length).then(() => landed.offset);
    if (data.length > this.chunkSizeBytes / LIMITS.appendRecordMaxFraction) {
      return Promise.reject(
        new DfsError('TOO_LARGE', `a record may be at most a ${LIMITS.appendRecordMaxFraction}th of a chunk`),
      );
    }
    if (this.inflight.size >= LIMITS.pendingAppendsPerChunkMax) {
      return Promise.reject(new DfsError('OVERLOADED', `too many appends waiting on chunk ${this.handle}`));
    }
    this.lastMutationMs = nowMs;
    if (this.full || this.nextOffset + data.length > this.chunkSizeBytes) {
      if (!this.full) this.padToEnd();
      return Promise.reject(new DfsError('CHUNK_FULL', `chunk ${this.handle} has no room for ${data.length} bytes`));
    }
    const offset = this.nextOffset;
    this.nextOffset += data.length;
    const packet: ValidPacket = { kind: 'append', offset, data, clientId, seq };
    const raw = encodeFrame({
      packet: {
        kind: 'PACKET_KIND_APPEND',
        offset: String(offset),
        data,
        dataCrc32c: crc,
        clientId,
        seq: String(seq),
      },
    });
    const done = this.track(
      this.pipeline
        .submit(raw, packet)
        .then(() => this.checkLeaseHeld())
        .then(() => this.lengths.ensure(offset + data.length))
        .then(() => offset),
    );
    this.inflight.set(key, done);
    const forget = () => this.inflight.delete(key);
    done.then(forget, forget);
    return done;
  }

  /** The chunk is closed to appends: readers see zeros after the last record. */
  private padToEnd(): void {
    this.full = true;
    this.nextOffset = this.chunkSizeBytes;
    const raw = encodeFrame({ packet: { kind: 'PACKET_KIND_PAD', length: String(this.chunkSizeBytes) } });
    // Nobody waits on the padding itself; a failure breaks the pipeline, which fails later mutations.
    this.pipeline.submit(raw, { kind: 'pad', length: this.chunkSizeBytes }).catch(() => undefined);
  }
}
