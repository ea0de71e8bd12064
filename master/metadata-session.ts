import * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import { toStatus } from '../common/grpc-errors.js';
import { LIMITS } from '../common/limits.js';
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

type SessionCall = grpc.ServerDuplexStream<SessionRequest__Output, SessionResponse>;

const PATHS = { batch: '/dfs.master.Metadata/Batch', readBatch: '/dfs.master.Metadata/ReadBatch' } as const;

/**
 * The master's side of Metadata.Session: each request on a client's stream
 * is served as its unary call would be, and answered under its id as soon as
 * it completes. A request that fails gets its error as an answer; the
 * stream itself ends only when the client closes it, goes away, or the
 * master stops (`endAll`). Authentication and the binding of callers happen
 * per message in the server's interceptors, as for any call.
 */
export class MetadataSessions {
  private readonly open = new Set<SessionCall>();
  private readonly inFlightMax: number;

  constructor(private readonly options: MetadataSessionsOptions = {}) {
    this.inFlightMax = options.inFlightMax ?? LIMITS.metadataSessionInFlightMax;
  }

  handler(calls: SessionCalls): grpc.handleBidiStreamingCall<SessionRequest__Output, SessionResponse> {
    return (call) => this.serve(call, calls);
  }

  /** Sessions open now (observable by tests). */
  openSessions(): number {
    return this.open.size;
  }

  /** Ends every session with UNAVAILABLE, so clients move to another master at once rather than at their deadline. */
  endAll(): void {
    for (const call of this.open) call.emit('error', toStatus(new DfsError('UNAVAILABLE', 'this master is stopping')));
    this.open.clear();
  }

  private serve(call: SessionCall, calls: SessionCalls): void {
    this.open.add(call);
    let inFlight = 0;
    let clientDone = false;
    let closed = false;
    const close = (): void => {
      closed = true;
      this.open.delete(call);
    };
    const finishIfDone = (): void => {
      if (clientDone && inFlight === 0 && !closed) {
        close();
        call.end();
      }
    };
    call.on('data', (request: SessionRequest__Output) => {
      if (closed) return;
      inFlight++;
      if (inFlight >= this.inFlightMax) call.pause();
      void this.answer(request, calls).then((response) => {
        inFlight--;
        if (closed) return;
        call.write(response);
        if (inFlight === this.inFlightMax - 1) call.resume();
        finishIfDone();
      });
    });
    call.on('end', () => {
      clientDone = true;
      finishIfDone();
    });
    call.on('cancelled', close);
    // A client that goes away is expected; its answers have no one to go to.
    call.on('error', close);
  }

  /** Never rejects: a failure is an answer. */
  private async answer(request: SessionRequest__Output, calls: SessionCalls): Promise<SessionResponse> {
    const startedAt = performance.now();
    const kind = request.call;
    try {
      let results: BatchResponse;
      if (kind === 'batch' && request.batch) results = await calls.batch(request.batch);
      else if (kind === 'readBatch' && request.readBatch) results = await calls.readBatch(request.readBatch);
      else throw new DfsError('INVALID_ARGUMENT', 'a session request carries a batch or a read_batch');
      if (kind !== undefined) this.options.record?.(PATHS[kind], grpc.status.OK, undefined, (performance.now() - startedAt) / 1000);
      return { id: request.id, results };
    } catch (err) {
      const e = err instanceof DfsError ? err : new DfsError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
      if (e.code === 'INTERNAL') this.options.onInternal?.(err);
      if (kind !== undefined) this.options.record?.(PATHS[kind], e.grpcStatus, e.code, (performance.now() - startedAt) / 1000);
      return { id: request.id, error: { code: e.code, message: e.message, leaderHint: e.details.leaderHint ?? '' } };
    }
  }
}
