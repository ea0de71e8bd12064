import type * as grpc from '@grpc/grpc-js';
import type { RawFrame } from '../proto/pipeline-frames.js';
import type { WriteAck } from '../proto/generated/dfs/chunk/WriteAck.js';
import type { ReplicaPipeline } from './replica-pipeline.js';

/**
 * The receiving end of a write stream (a client's to the primary, or the
 * pipeline's to a secondary): acknowledges its packets in order as the
 * pipeline finishes them, and stops reading while the pipeline is full.
 */
export class StreamAcks {
  private acked = 0;

  constructor(
    private readonly call: grpc.ServerDuplexStream<RawFrame, WriteAck>,
    private readonly failed: () => boolean,
    private readonly fail: (err: unknown) => void,
  ) {}

  /** Resolves once the packet is acknowledged (or the stream has failed). */
  track(done: Promise<void>, pipeline: ReplicaPipeline): Promise<void> {
    const settled = done.then(() => {
      this.acked++;
      if (!this.failed()) this.call.write({ acked: String(this.acked) });
    }, this.fail);
    if (!pipeline.hasRoom()) {
      this.call.pause();
      void pipeline.room().then(() => this.call.resume());
    }
    return settled;
  }
}
