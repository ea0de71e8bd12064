import { backoffDelayMs, sleep, type BackoffPolicy } from '../common/backoff.js';
import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import type { ChunkHandle } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { encodeFrame, type RawFrameStream } from '../proto/pipeline-frames.js';
import type { WriteAck__Output } from '../proto/generated/dfs/chunk/WriteAck.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { ChunkIo } from './chunk-io.js';

export interface LeaseInfo {
  handle: ChunkHandle;
  version: number;
  primary: ServerRef__Output;
  /** Local monotonic time after which the client stops trusting it. */
  expiresAtMs: number;
  /** Lets this client write the chunk through the primary; '' when the cluster runs plaintext. */
  accessToken: string;
}

export interface WriteSessionDeps {
  io: ChunkIo;
  /** The chunk's current lease; `refresh` bypasses the cache after a failure. */
  lease(handle: ChunkHandle, refresh: boolean): Promise<LeaseInfo>;
  clientId: string;
  retry: BackoffPolicy;
  random: () => number;
  logger: Logger;
}

interface Queued {
  frame: Buffer;
  bytes: number;
}

/**
 * A client's stream of mutations to one chunk. Packets wait in a bounded
 * window until every replica has them durable; if the stream breaks (a
 * replica died, the lease moved), the session asks for the lease again and
 * resends whatever is unacknowledged. Resending is safe: a packet writes
 * fixed bytes at a fixed offset.
 */
export class ChunkWriteSession {
  private stream: RawFrameStream | undefined;
  /** Packets not yet acknowledged start at `head`; `written` is the next one to write to the current stream. */
  private readonly queue: Queued[] = [];
  private head = 0;
  private written = 0;
  private ackedOnStream = 0;
  private unackedBytes = 0;
  private failure: DfsError | undefined;
  private recovering: Promise<void> | undefined;
  private windowWaiters: (() => void)[] = [];
  private flushWaiters: { resolve: () => void; reject: (err: DfsError) => void }[] = [];
  private failuresSinceProgress = 0;
  private retryDeadline = 0;

  constructor(
    private readonly deps: WriteSessionDeps,
    readonly handle: ChunkHandle,
  ) {}

  /** Queues bytes at an offset of the chunk; resolves once the window has room, not when durable. */
  async write(offset: number, data: Buffer): Promise<void> {
    await this.send({
      packet: { kind: 'PACKET_KIND_WRITE', offset: String(offset), data, dataCrc32c: crc32c(data) },
    });
  }

  async truncate(length: number): Promise<void> {
    await this.send({ packet: { kind: 'PACKET_KIND_TRUNCATE', length: String(length) } });
  }

  /** Resolves when every packet queued so far is durable on every replica. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.head === this.queue.length) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.stream?.end();
      this.stream = undefined;
    }
  }

  private async send(frame: Parameters<typeof encodeFrame>[0]): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const bytes = encodeFrame(frame);
    this.queue.push({ frame: bytes, bytes: bytes.length });
    this.unackedBytes += bytes.length;
    this.pump();
    while (this.unackedBytes > LIMITS.writeWindowBytes && this.failure === undefined) {
      await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private recover(afterFailure: boolean): void {
    if (this.recovering !== undefined || this.failure !== undefined) return;
    this.recovering = (async () => {
      if (afterFailure) {
        await sleep(backoffDelayMs(this.failuresSinceProgress, this.deps.retry, this.deps.random));
      }
      await this.open(afterFailure);
    })()
      .catch((err: unknown) => this.onStreamError(undefined, isDfsError(err) ? err : fromGrpcError(err)))
      .finally(() => {
        this.recovering = undefined;
      });
  }

  private async open(refreshLease: boolean): Promise<void> {
    const lease = await this.deps.lease(this.handle, refreshLease);
    const stream = this.deps.io.openWrite(lease.primary.address, lease.accessToken);
    this.stream = stream;
    this.ackedOnStream = 0;
    stream.on('data', (ack: WriteAck__Output) => this.onAck(stream, Number(ack.acked)));
    stream.on('error', (err: unknown) => this.onStreamError(stream, fromGrpcError(err)));
    stream.on('end', () => {
      if (this.head < this.queue.length) this.onStreamError(stream, new DfsError('UNAVAILABLE', 'write stream ended early'));
    });
    stream.write(
      encodeFrame({
        header: { handle: String(this.handle), version: String(lease.version), chain: [], clientId: this.deps.clientId },
      }),
    );
    // Acks count the packets of this stream in order, so it carries every unacknowledged one, in order.
    this.written = this.head;
    this.pump();
  }

  /** Writes every queued packet the current stream has not carried yet, or starts a stream. */
  private pump(): void {
    if (this.stream === undefined) {
      this.recover(false);
      return;
    }
    while (this.written < this.queue.length) this.stream.write(this.queue[this.written++]!.frame);
  }

  private onAck(stream: RawFrameStream, acked: number): void {
    if (stream !== this.stream) return;
    const newly = acked - this.ackedOnStream;
    this.ackedOnStream = acked;
    for (let i = 0; i < newly && this.head < this.queue.length; i++) {
      this.unackedBytes -= this.queue[this.head]!.bytes;
      this.queue[this.head++] = undefined as unknown as Queued;
    }
    if (this.head > 256 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.written -= this.head;
      this.head = 0;
    }
    if (newly > 0) this.failuresSinceProgress = 0;
    this.wake();
  }

  private onStreamError(stream: RawFrameStream | undefined, err: DfsError): void {
    if (stream !== undefined && stream !== this.stream) return;
    this.stream?.cancel();
    this.stream = undefined;
    if (this.failure !== undefined) return;
    if (this.failuresSinceProgress === 0) this.retryDeadline = Date.now() + this.deps.retry.deadlineMs;
    this.failuresSinceProgress++;
    if (!err.retryable || Date.now() > this.retryDeadline) {
      this.fail(err);
      return;
    }
    this.deps.logger.debug({ handle: this.handle, code: err.code, err: err.message }, 'write stream failed; retrying');
    if (this.head < this.queue.length) this.recover(true);
  }

  private fail(err: DfsError): void {
    this.failure = err;
    for (const w of this.flushWaiters) w.reject(err);
    this.flushWaiters = [];
    this.wake();
  }

  private wake(): void {
    if (this.unackedBytes <= LIMITS.writeWindowBytes || this.failure !== undefined) {
      const waiters = this.windowWaiters;
      this.windowWaiters = [];
      for (const w of waiters) w();
    }
    if (this.head === this.queue.length) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }
}
