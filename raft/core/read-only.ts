import type { Index, NodeId } from './types.js';

interface ReadRequest {
  readonly index: Index;
  /** The node waiting for the answer (the leader itself or a follower). */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
  /** When the leader sent the heartbeat round for this request (the lease clock), or -Infinity without lease reads. */
  readonly sentAtMs: number;
}

/**
 * ReadIndex requests on the leader that wait for a heartbeat round to confirm
 * its leadership. A quorum of acks for one request confirms every request
 * queued before it too: their heartbeats left no later than its own.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  add(index: Index, context: string, from: NodeId, sentAtMs: number): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, from, acks: new Set(), sentAtMs });
    this.queue.push(context);
  }

  /** Records an ack; returns everyone who acked the request so far, if it is pending. */
  ack(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const req = this.pending.get(context);
    if (req === undefined) return undefined;
    req.acks.add(from);
    return req.acks;
  }

  /** Removes and returns the requests up to and including `context`, oldest first. */
  release(context: string): Array<{ index: Index; from: NodeId; context: string; sentAtMs: number }> {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((ctx) => {
      const req = this.pending.get(ctx)!;
      this.pending.delete(ctx);
      return { index: req.index, from: req.from, context: ctx, sentAtMs: req.sentAtMs };
    });
  }

  lastContext(): string {
    return this.queue.length === 0 ? '' : this.queue[this.queue.length - 1]!;
  }

  size(): number {
    return this.queue.length;
  }
}
