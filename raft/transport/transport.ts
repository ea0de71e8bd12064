import type { Message } from '../core/messages.js';
import type { NodeId } from '../core/types.js';

/** What a transport reports back to the node that owns it. */
export interface TransportHandler {
  /** `senderAddress` is where the sender says it can be reached ('' if it did not say). */
  receive(message: Message, senderAddress: string): void;
  /** Messages to `to` were lost; replication to it should fall back to probing. */
  reportUnreachable(to: NodeId): void;
  /** The outcome of sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, delivered: boolean): void;
}

/**
 * Carries Raft messages between members. send() never blocks and may drop:
 * Raft retransmits whatever matters, and one slow peer must never hold up
 * the others.
 */
export interface RaftTransport {
  /** `localAddress` is advertised to peers with every batch. */
  start(handler: TransportHandler, localAddress: string): void;
  send(message: Message, address: string): void;
  /** Forgets a member that left: closes its connection, drops its queue. */
  removePeer(id: NodeId): void;
  stop(): Promise<void>;
}
