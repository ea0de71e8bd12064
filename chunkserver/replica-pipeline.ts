import { DfsError, isDfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import type { CounterCell } from '../common/metrics.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import type { ServerRef__Output as ServerRef } from '../proto/generated/dfs/ServerRef.js';
import type { WriteAck__Output } from '../proto/generated/dfs/chunk/WriteAck.js';
import type { ChunkStore } from './chunk-store.js';
import { encodeFrame, type RawFrameStream, type RawPipelineClient } from '../proto/pipeline-frames.js';
import type { ValidPacket } from './packet-validation.js';

export interface PipelineDeps {
  store: ChunkStore;
  /** The raw-frame replication client for a peer's address. */
  peer(address: string): RawPipelineClient;
  selfId: ServerId;
  logger: Logger;
  /** Counts the data of write and append packets applied here. */
  writtenBytes: CounterCell;
}

interface Waiter {
  index: number;
  resolve: () => void;
  reject: (err: DfsError) => void;
}

/**
 * The ordered mutation stream of one chunk at one version, on one replica:
 * the primary's, or a secondary's as it arrives from upstream. Each packet is
 * applied to the local store and forwarded, byte for byte, down the chain.
 * A packet is done when it is durable here (group commit: one sync covers
 * every packet issued before it, and the next starts as soon as the last
 * ends) and the downstream replica has acknowledged it, which in turn means
 * durable on every replica after it.
 */
export class ReplicaPipeline {
  private issued = 0;
  private localDurable = 0;
  private downstreamAcked = 0;
  private acked = 0;
  private readonly waiters: Waiter[] = [];
  private waiterHead = 0;
  private pendingBytes = 0;
  /** Sizes of unacknowledged packets, oldest at bytesHead. */
  private readonly packetBytes: number[] = [];
  private bytesHead = 0;
  private syncScheduled = false;
  private syncing: Promise<void> | undefined;
  private readonly localOps = new Set<Promise<void>>();
  private stream: RawFrameStream | undefined;
  private streamNeedsDrain = false;
  private roomWaiters: (() => void)[] = [];
  private failure: DfsError | undefined;
  private ended = false;
  private readonly failureListeners: ((err: DfsError) => void)[] = [];

  constructor(
    private readonly deps: PipelineDeps,
    readonly handle: ChunkHandle,
    readonly version: ChunkVersion,
    /** Replicas after this one, in order. */
    private readonly downstream: readonly ServerRef[],
  ) {}

  get failed(): DfsError | undefined {
    return this.failure;
  }

  /** Called once if the pipeline breaks (not on close()). */
  onFailure(listener: (err: DfsError) => void): void {
    this.failureListeners.push(listener);
  }

  /** Applies and forwards one packet; resolves when it is durable here and on every replica downstream. */
  submit(raw: Buffer, packet: ValidPacket): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const index = ++this.issued;
    const bytes = raw.length;
    this.pendingBytes += bytes;
    this.packetBytes.push(bytes);
    const op = this.applyLocally(packet).catch((err: unknown) => this.fail(this.localFailure(err)));
    this.localOps.add(op);
    void op.finally(() => this.localOps.delete(op));
    if (this.downstream.length > 0) this.forward(raw);
    this.scheduleSync();
    return new Promise<void>((resolve, reject) => this.waiters.push({ index, resolve, reject }));
  }

  /** False when writers should wait before submitting more (see room()). */
  hasRoom(): boolean {
    return this.failure !== undefined || (this.pendingBytes < LIMITS.pipelineQueuedBytesMax && !this.streamNeedsDrain);
  }

  room(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Waits for every submitted packet, then ends the downstream stream cleanly. */
  async finish(): Promise<void> {
    if (this.acked < this.issued && this.failure === undefined) {
      await new Promise<void>((resolve, reject) => this.waiters.push({ index: this.issued, resolve, reject }));
    }
    this.endStream();
  }

  /**
   * Stops accepting packets (a lease ended or a new version arrived): pending
   * packets fail with `reason`, and the call returns once no write of this
   * pipeline can still reach the store.
   */
  async close(reason: DfsError): Promise<void> {
    if (this.failure === undefined) {
      this.failure = reason;
      this.rejectAll(reason);
    }
    this.endStream();
    await Promise.allSettled([...this.localOps]);
    await this.syncing;
  }

  private applyLocally(packet: ValidPacket): Promise<void> {
    const { store } = this.deps;
    switch (packet.kind) {
      case 'write':
        this.deps.writtenBytes.inc(packet.data.length);
        return store.write(this.handle, packet.offset, packet.data);
      case 'append': {
        this.deps.writtenBytes.inc(packet.data.length);
        const written = store.write(this.handle, packet.offset, packet.data);
        store.recordAppend(this.handle, packet.clientId, packet.seq, packet.offset, packet.data.length);
        return written;
      }
      case 'pad':
        return store.pad(this.handle, packet.length);
      case 'truncate':
        return store.truncate(this.handle, packet.length);
    }
  }

  private scheduleSync(): void {
    if (this.syncScheduled || this.syncing !== undefined) return;
    this.syncScheduled = true;
    // Let the packets that arrived in this turn of the event loop join the batch.
    setImmediate(() => {
      this.syncScheduled = false;
      this.startSync();
    });
  }

  private startSync(): void {
    if (this.syncing !== undefined || this.failure !== undefined || this.localDurable === this.issued) return;
    const target = this.issued;
    this.syncing = this.deps.store.sync(this.handle).then(
      () => {
        this.syncing = undefined;
        this.localDurable = Math.max(this.localDurable, target);
        this.settle();
        this.startSync();
      },
      (err: unknown) => {
        this.syncing = undefined;
        this.fail(this.localFailure(err));
      },
    );
  }

  private forward(raw: Buffer): void {
    if (this.stream === undefined) this.openStream();
    if (!this.stream!.write(raw)) this.streamNeedsDrain = true;
  }

  private openStream(): void {
    const [next, ...rest] = this.downstream;
    const stream = this.deps.peer(next!.address).Pipeline();
    this.stream = stream;
    stream.write(
      encodeFrame({ header: { handle: String(this.handle), version: String(this.version), chain: rest, clientId: '' } }),
    );
    stream.on('data', (ack: WriteAck__Output) => {
      const n = Number(ack.acked);
      if (n > this.downstreamAcked) {
        this.downstreamAcked = n;
        this.settle();
      }
    });
    stream.on('drain', () => {
      this.streamNeedsDrain = false;
      this.wakeRoomWaiters();
    });
    stream.on('error', (err: unknown) => this.fail(this.chainFailure(err, next!)));
    stream.on('end', () => {
      if (this.downstreamAcked < this.issued) this.fail(this.chainFailure(undefined, next!));
    });
  }

  private settle(): void {
    const acked = this.downstream.length > 0 ? Math.min(this.localDurable, this.downstreamAcked) : this.localDurable;
    while (this.acked < acked) {
      this.acked++;
      this.pendingBytes -= this.packetBytes[this.bytesHead++]!;
    }
    if (this.bytesHead > 1024 && this.bytesHead * 2 > this.packetBytes.length) {
      this.packetBytes.splice(0, this.bytesHead);
      this.bytesHead = 0;
    }
    while (this.waiterHead < this.waiters.length && this.waiters[this.waiterHead]!.index <= acked) {
      this.waiters[this.waiterHead++]!.resolve();
    }
    this.compactWaiters();
    this.wakeRoomWaiters();
  }

  private compactWaiters(): void {
    if (this.waiterHead > 1024 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waiterHead);
      this.waiterHead = 0;
    }
  }

  private wakeRoomWaiters(): void {
    if (!this.hasRoom() || this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  private fail(err: DfsError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.deps.logger.warn({ handle: this.handle, version: this.version, code: err.code, err: err.message }, 'pipeline failed');
    this.rejectAll(err);
    this.stream?.cancel();
    for (const listener of this.failureListeners) listener(err);
  }

  private rejectAll(err: DfsError): void {
    while (this.waiterHead < this.waiters.length) this.waiters[this.waiterHead++]!.reject(err);
    this.waiters.length = 0;
    this.waiterHead = 0;
    this.wakeRoomWaiters();
  }

  private endStream(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream?.end();
  }

  private localFailure(err: unknown): DfsError {
    const cause = isDfsError(err) ? err : new DfsError('INTERNAL', String(err), { cause: err });
    return new DfsError('CHAIN_FAILURE', `replica ${this.deps.selfId} failed to store chunk ${this.handle}: ${cause.message}`, {
      cause,
      details: { failedServerIds: [this.deps.selfId] },
    });
  }

  private chainFailure(err: unknown, next: ServerRef): DfsError {
    const cause = err === undefined ? undefined : fromGrpcError(err);
    const failed = cause?.details.failedServerIds?.length ? cause.details.failedServerIds : [next.id];
    return new DfsError(
      'CHAIN_FAILURE',
      `pipeline to ${next.address} broke${cause ? `: ${cause.message}` : ' (stream ended early)'}`,
      { cause, details: { failedServerIds: failed } },
    );
  }
}
