import * as grpc from '@grpc/grpc-js';
import { DfsError } from '../../common/errors.js';
import { toStatus } from '../../common/grpc-errors.js';
import { baseChannelOptions } from '../../common/grpc-server.js';
import type { Logger } from '../../common/logger.js';
import type { MessageBatch__Output } from '../../proto/generated/dfs/raft/MessageBatch.js';
import type { RaftTransportHandlers } from '../../proto/generated/dfs/raft/RaftTransport.js';
import type { SendResponse } from '../../proto/generated/dfs/raft/SendResponse.js';
import type { SnapshotChunk__Output } from '../../proto/generated/dfs/raft/SnapshotChunk.js';
import type { Message } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import { messageFromWire } from '../proto/convert.js';
import { raftServices } from '../proto/raft-proto.js';
import { TRANSPORT_LIMITS, type TransportLimits } from './limits.js';
import { PeerSender } from './peer-sender.js';
import type { RaftTransport, TransportHandler } from './transport.js';

export interface GrpcTransportOptions {
  /** This member's id: messages addressed to anyone else are refused. */
  id: NodeId;
  logger: Logger;
  limits?: Partial<TransportLimits>;
  /** How to reach peers (TLS, say); plaintext by default. */
  credentials?: grpc.ChannelCredentials;
}

/**
 * Raft over gRPC: one client channel and one PeerSender per peer; the
 * RaftTransport service, added to a gRPC server the caller owns (the master
 * serves it beside its own services), hands what arrives to the node.
 * A handler only decodes, validates and delivers.
 */
export class GrpcTransport implements RaftTransport {
  private readonly peers = new Map<NodeId, PeerSender>();
  private handler: TransportHandler | null = null;
  private localAddress = '';
  private readonly limits: TransportLimits;
  private stopped = false;

  constructor(private readonly options: GrpcTransportOptions) {
    this.limits = { ...TRANSPORT_LIMITS, ...options.limits };
  }

  /** Adds the RaftTransport service to `server`; call before the server starts. */
  register(server: grpc.Server): void {
    const handlers: RaftTransportHandlers = {
      Send: (call, callback) => {
        try {
          this.deliverBatch(call.request);
          callback(null, {});
        } catch (err) {
          callback(toStatus(err));
        }
      },
      Stream: (call, callback) => this.receiveStream(call, callback),
      InstallSnapshot: (call, callback) => this.receiveSnapshot(call, callback),
    };
    server.addService(raftServices().dfs.raft.RaftTransport.service, handlers);
  }

  start(handler: TransportHandler, localAddress: string): void {
    this.handler = handler;
    this.localAddress = localAddress;
  }

  send(message: Message, address: string): void {
    if (this.stopped || this.handler === null) return;
    let peer = this.peers.get(message.to);
    if (peer !== undefined && peer.address !== address) {
      peer.close();
      peer = undefined;
    }
    if (peer === undefined) {
      const client = new (raftServices().dfs.raft.RaftTransport)(address, this.options.credentials ?? grpc.credentials.createInsecure(), {
        ...baseChannelOptions(),
        'grpc.max_receive_message_length': this.limits.grpcMessageBytes,
        'grpc.max_send_message_length': this.limits.grpcMessageBytes,
      });
      peer = new PeerSender(message.to, address, this.localAddress, client, this.handler, this.limits, this.options.logger);
      this.peers.set(message.to, peer);
    }
    peer.send(message);
  }

  removePeer(id: NodeId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  /** Messages dropped so far because a peer's queue was full. */
  droppedMessages(): number {
    let n = 0;
    for (const p of this.peers.values()) n += p.dropped;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.handler = null;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }

  /** Delivers each batch as it arrives; the first refused one ends the stream with its error. */
  private receiveStream(call: grpc.ServerReadableStream<MessageBatch__Output, SendResponse>, callback: grpc.sendUnaryData<SendResponse>): void {
    let answered = false;
    const answer = (err: grpc.StatusObject | null): void => {
      if (answered) return;
      answered = true;
      if (err === null) callback(null, {});
      else callback(err);
    };
    call.on('data', (batch: MessageBatch__Output) => {
      if (answered) return;
      try {
        this.deliverBatch(batch);
      } catch (err) {
        answer(toStatus(err));
      }
    });
    call.on('end', () => answer(null));
    // A sender that cancels or goes away is expected: there is no one left to answer.
    call.on('error', () => undefined);
  }

  private receiver(): TransportHandler {
    if (this.handler === null) throw new DfsError('UNAVAILABLE', `raft member ${this.options.id} is not running`);
    return this.handler;
  }

  private checkAddressee(m: Message): Message {
    if (m.to !== this.options.id) throw new DfsError('INVALID_ARGUMENT', `raft message for ${m.to} reached ${this.options.id}`);
    return m;
  }

  private deliverBatch(batch: MessageBatch__Output): void {
    const handler = this.receiver();
    // Decode everything first: a malformed batch is refused whole and changes nothing.
    const messages = batch.messages.map((w) => this.checkAddressee(messageFromWire(w)));
    for (const m of messages) handler.receive(m, batch.senderAddress);
  }

  private receiveSnapshot(call: grpc.ServerReadableStream<SnapshotChunk__Output, SendResponse>, callback: grpc.sendUnaryData<SendResponse>): void {
    let header: Message | null = null;
    let senderAddress = '';
    const parts: Buffer[] = [];
    let bytes = 0;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      call.destroy();
      callback(toStatus(err));
    };
    call.on('data', (chunk: SnapshotChunk__Output) => {
      if (failed) return;
      try {
        if (header === null) {
          if (chunk.header === null || chunk.header === undefined) throw new DfsError('INVALID_ARGUMENT', 'raft snapshot stream without a header');
          header = this.checkAddressee(messageFromWire(chunk.header));
          senderAddress = chunk.senderAddress;
          if (header.type !== 'snapshot') throw new DfsError('INVALID_ARGUMENT', `raft snapshot stream carries a ${header.type} message`);
        }
        bytes += chunk.data.byteLength;
        if (bytes > this.limits.snapshotMaxBytes) throw new DfsError('TOO_LARGE', `raft snapshot exceeds ${this.limits.snapshotMaxBytes} bytes`);
        parts.push(chunk.data);
      } catch (err) {
        fail(err);
      }
    });
    call.on('error', (err) => fail(err));
    call.on('end', () => {
      if (failed) return;
      try {
        if (header === null || header.type !== 'snapshot') throw new DfsError('INVALID_ARGUMENT', 'raft snapshot stream ended without a snapshot');
        const data = Buffer.concat(parts, bytes);
        const message: Message = { ...header, snapshot: { ...header.snapshot, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } };
        this.receiver().receive(message, senderAddress);
        callback(null, {});
      } catch (err) {
        fail(err);
      }
    });
  }
}
