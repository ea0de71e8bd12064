import * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { SessionServer, sessionError } from '../common/session-server.js';
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
  /** Each request as the call it stands for ("/dfs.master.Metadata/Batch"): gRPC status, DfsError code, seconds. */
  record?: (path: string, code: grpc.status, dfsCode: string | undefined, seconds: number) => void;
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

  constructor(private readonly options: MetadataSessionsOptions = {}) {
    this.server = new SessionServer({ inFlightMax: options.inFlightMax ?? LIMITS.metadataSessionInFlightMax });
  }

  handler(calls: SessionCalls): grpc.handleBidiStreamingCall<SessionRequest__Output, SessionResponse> {
    return this.server.handler((request) => this.answer(request, calls));
  }

  openSessions(): number {
    return this.server.openSessions();
  }

  endAll(): void {
    this.server.endAll('this master is stopping');
  }

  private async answer(request: SessionRequest__Output, calls: SessionCalls): Promise<SessionResponse> {
    const startedAt = performance.now();
    const kind = request.call;
    const record = (code: grpc.status, dfsCode: string | undefined) => {
      if (kind !== undefined) this.options.record?.(PATHS[kind], code, dfsCode, (performance.now() - startedAt) / 1000);
    };
    try {
      let results: BatchResponse;
      if (kind === 'batch' && request.batch) results = await calls.batch(request.batch);
      else if (kind === 'readBatch' && request.readBatch) results = await calls.readBatch(request.readBatch);
      else throw new DfsError('INVALID_ARGUMENT', 'a session request carries a batch or a read_batch');
      record(grpc.status.OK, undefined);
      return { id: request.id, results };
    } catch (err) {
      const error = sessionError(err);
      if (error.code === 'INTERNAL') this.options.onInternal?.(err);
      record(err instanceof DfsError ? err.grpcStatus : grpc.status.INTERNAL, error.code);
      return { id: request.id, error };
    }
  }
}
