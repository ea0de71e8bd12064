import type * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { LIMITS } from '../common/limits.js';
import { RefusedSessionRequest, SessionServer } from '../common/session-server.js';
import type { BatchRequest__Output } from '../proto/generated/dfs/master/BatchRequest.js';
import type { BatchResponse } from '../proto/generated/dfs/master/BatchResponse.js';
import type { ReadBatchRequest__Output } from '../proto/generated/dfs/master/ReadBatchRequest.js';
import type { SessionRequest__Output } from '../proto/generated/dfs/master/SessionRequest.js';
import type { SessionResponse } from '../proto/generated/dfs/master/SessionResponse.js';

/** What a session request runs: exactly the Batch and ReadBatch handlers' work. */
export interface SessionCalls {
  batch(request: BatchRequest__Output): Promise<BatchResponse>;
  readBatch(request: ReadBatchRequest__Output): Promise<BatchResponse>;
}

export interface MetadataSessionsOptions {
  /** Requests served at once per session (LIMITS.metadataSessionInFlightMax). */
  inFlightMax?: number;
  /** Counts each request as the Batch or ReadBatch call it stands for. */
  metrics?: GrpcServerMetrics;
  /** An error that is not a DfsError: a bug. */
  onInternal?: (err: unknown) => void;
}

const PATHS = { batch: '/dfs.master.Metadata/Batch', readBatch: '/dfs.master.Metadata/ReadBatch' } as const;

/**
 * The master's side of Metadata.Session: each request on a client's stream
 * is served as its unary call would be, and answered under its id as soon as
 * it completes; a request that fails gets its error as an answer.
 * Authentication and the binding of callers happen per message in the
 * server's interceptors, as for any call.
 */
export class MetadataSessions {
  private readonly server: SessionServer<SessionRequest__Output, SessionResponse>;

  constructor(options: MetadataSessionsOptions = {}) {
    this.server = new SessionServer({
      inFlightMax: options.inFlightMax ?? LIMITS.metadataSessionInFlightMax,
      metrics: options.metrics,
      pathOf: (request) => (request instanceof RefusedSessionRequest || request.call === undefined ? undefined : PATHS[request.call]),
      onInternal: options.onInternal,
    });
  }

  handler(calls: SessionCalls): grpc.handleBidiStreamingCall<SessionRequest__Output | RefusedSessionRequest, SessionResponse> {
    return this.server.handler(
      async (request) => {
        if (request.call === 'batch' && request.batch) return { id: request.id, results: await calls.batch(request.batch) };
        if (request.call === 'readBatch' && request.readBatch) return { id: request.id, results: await calls.readBatch(request.readBatch) };
        throw new DfsError('INVALID_ARGUMENT', 'a session request carries a batch or a read_batch');
      },
      (id, error) => ({ id, error }),
    );
  }

  openSessions(): number {
    return this.server.openSessions();
  }

  endAll(): void {
    this.server.endAll('this master is stopping');
  }
}
