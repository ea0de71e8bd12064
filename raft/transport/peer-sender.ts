import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/logger.js';
import type { Message as WireMessage } from '../../proto/generated/dfs/raft/Message.js';
import type { MessageBatch as WireMessageBatch } from '../../proto/generated/dfs/raft/MessageBatch.js';
import type { RaftTransportClient } from '../../proto/generated/dfs/raft/RaftTransport.js';
import type { SnapshotChunk } from '../../proto/generated/dfs/raft/SnapshotChunk.js';
import type { Message, SnapshotMessage } from '../core/messages.js';
import { entriesBytes, ENTRY_OVERHEAD_BYTES, type NodeId } from '../core/types.js';
import { messageToWire } from '../proto/convert.js';
import type { TransportLimits } from './limits.js';
import type { TransportHandler } from './transport.js';

/**
 * Everything bound for one peer: a bounded FIFO written, in batches, to one
 * long-lived Stream call (so messages arrive in order), and at most one
 * snapshot stream beside it. While the stream cannot take more, messages
 * wait in the FIFO; a stream that stays full past the send timeout, or that
 * fails, is dropped with what it carried and the peer reported unreachable.
 * The next message opens a new one. Nothing here ever waits on another peer.
 */
export class PeerSender {
  private queue: Message[] = [];
  private stream: grpc.ClientWritableStream<WireMessageBatch> | undefined;
  /** Waiting for the stream to drain; the timer gives up on it. */
  private blocked: NodeJS.Timeout | undefined;
  private snapshotInFlight = false;
  private closed = false;
  dropped = 0;

  constructor(
    readonly id: NodeId,
    readonly address: string,
    private readonly localAddress: string,
    private readonly client: RaftTransportClient,
    private readonly handler: TransportHandler,
    private readonly limits: TransportLimits,
    private readonly logger: Logger,
  ) {}

  send(message: Message): void {
    if (this.closed) return;
    if (message.type === 'snapshot') {
      this.sendSnapshot(message);
      return;
    }
    if (this.queue.length >= this.limits.queuedMessagesPerPeer) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(message);
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    clearTimeout(this.blocked);
    this.stream?.cancel();
    this.client.close();
  }

  private pump(): void {
    if (this.closed || this.blocked !== undefined) return;
    while (this.queue.length > 0) {
      const stream = this.stream ?? this.open();
      const batch = this.takeBatch();
      if (!stream.write({ messages: batch.map(messageToWire), senderAddress: this.localAddress })) {
        this.waitForDrain(stream);
        return;
      }
    }
  }

  private open(): grpc.ClientWritableStream<WireMessageBatch> {
    const stream = this.client.stream((err) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      clearTimeout(this.blocked);
      this.blocked = undefined;
      if (this.closed) return;
      if (err !== null) {
        this.logger.debug({ peer: this.id, code: err.code, message: err.message }, 'raft transport: stream failed');
        this.handler.reportUnreachable(this.id);
      }
      this.pump();
    });
    // Failures arrive through the callback above; an 'error' event nobody listened to would throw.
    stream.on('error', () => undefined);
    this.stream = stream;
    return stream;
  }

  /** A peer that takes nothing for the send timeout is hung (stopped, or its network is): give the stream up. */
  private waitForDrain(stream: grpc.ClientWritableStream<WireMessageBatch>): void {
    const onDrain = (): void => {
      clearTimeout(this.blocked);
      this.blocked = undefined;
      this.pump();
    };
    stream.once('drain', onDrain);
    this.blocked = setTimeout(() => {
      stream.off('drain', onDrain);
      stream.cancel();
    }, this.limits.sendTimeoutMs);
  }

  private takeBatch(): Message[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length) {
      const m = this.queue[n]!;
      const size = ENTRY_OVERHEAD_BYTES + (m.type === 'append' ? entriesBytes(m.entries) : 0);
      if (n > 0 && bytes + size > this.limits.batchBytes) break;
      bytes += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private sendSnapshot(message: SnapshotMessage): void {
    if (this.snapshotInFlight) {
      // The core sends one snapshot at a time per follower; a second means it gave up on the first.
      this.handler.reportSnapshot(this.id, false);
      return;
    }
    this.snapshotInFlight = true;
    const data = message.snapshot.data;
    const header = messageToWire({ ...message, snapshot: { ...message.snapshot, data: new Uint8Array(0) } });
    const deadline = Date.now() + this.limits.snapshotTimeoutMs;
    const call = this.client.installSnapshot({ deadline }, (err) => {
      this.snapshotInFlight = false;
      if (this.closed) return;
      if (err !== null) this.logger.warn({ peer: this.id, code: err.code, message: err.message }, 'raft transport: snapshot failed');
      this.handler.reportSnapshot(this.id, err === null);
    });
    void this.writeChunks(call, header, data);
  }

  /** Streams the chunks, honouring backpressure; failures surface in the call's callback. */
  private async writeChunks(call: grpc.ClientWritableStream<SnapshotChunk>, header: WireMessage, data: Uint8Array): Promise<void> {
    const chunk = this.limits.snapshotChunkBytes;
    let offset = 0;
    let first = true;
    try {
      do {
        const end = Math.min(data.byteLength, offset + chunk);
        const piece: SnapshotChunk = {
          ...(first ? { header, senderAddress: this.localAddress } : {}),
          data: data.subarray(offset, end),
          last: end === data.byteLength,
        };
        first = false;
        offset = end;
        if (!call.write(piece) && !(await drained(call))) return;
      } while (offset < data.byteLength && !this.closed);
      call.end();
    } catch (err) {
      this.logger.warn({ peer: this.id, err }, 'raft transport: snapshot stream broke');
      call.cancel();
    }
  }
}

/** Resolves true when the stream can take more, false if it closed first. */
function drained(call: grpc.ClientWritableStream<SnapshotChunk>): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      call.off('drain', onDrain);
      call.off('close', onClose);
      call.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    call.once('drain', onDrain);
    call.once('close', onClose);
    call.once('error', onClose);
  });
}
