import * as grpc from '@grpc/grpc-js';
import { DfsError, isErrorCode } from '../common/errors.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import { masterServices } from '../proto/load.js';
import type { BatchRequest } from '../proto/generated/dfs/master/BatchRequest.js';
import type { MetadataClient } from '../proto/generated/dfs/master/Metadata.js';
import type { OpResult__Output } from '../proto/generated/dfs/master/OpResult.js';
import type { ReadBatchRequest } from '../proto/generated/dfs/master/ReadBatchRequest.js';
import type { SessionRequest } from '../proto/generated/dfs/master/SessionRequest.js';
import type { SessionResponse__Output } from '../proto/generated/dfs/master/SessionResponse.js';
import { decodeWithResults } from './batch-call.js';

export type SessionCall = { kind: 'batch'; request: BatchRequest } | { kind: 'readBatch'; request: ReadBatchRequest };

interface Pending {
  resolve(results: OpResult__Output[]): void;
  reject(err: DfsError): void;
  timer: NodeJS.Timeout;
}

const UINT32_SPAN = 2 ** 32;

function decodeResponse(bytes: Buffer): SessionResponse__Output {
  return decodeWithResults<SessionResponse__Output>('dfs.master.SessionResponse', bytes, (m) => m.results?.results);
}

/**
 * The client's side of Metadata.Session with one master: Batch and
 * ReadBatch requests as messages on one stream, opened on first use and
 * again after it ends. Each request resolves or rejects as its unary call
 * would have, with the same DfsErrors; requests in flight when the stream
 * breaks fail UNAVAILABLE (a retry with the same request ids applies
 * nothing twice). A master that does not know Session (an older one)
 * answers UNIMPLEMENTED: `unsupported` turns true and the caller goes back
 * to unary calls.
 */
export class MetadataSession {
  private stream: grpc.ClientDuplexStream<SessionRequest, SessionResponse__Output> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** The master answered UNIMPLEMENTED: it has no sessions. */
  unsupported = false;

  constructor(private readonly client: MetadataClient) {}

  /** One request; `timeoutMs` bounds the wait for its answer. */
  request(call: SessionCall, timeoutMs: number): Promise<OpResult__Output[]> {
    if (this.closed) return Promise.reject(new DfsError('UNAVAILABLE', 'the client is closed'));
    const stream = this.stream ?? this.open();
    this.nextId = (this.nextId + 1) % UINT32_SPAN;
    const id = this.nextId;
    return new Promise<OpResult__Output[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DfsError('TIMEOUT', `the master did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      stream.write(call.kind === 'batch' ? { id, batch: call.request } : { id, readBatch: call.request });
    });
  }

  /** Requests waiting for an answer (observable by tests). */
  inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.failAll(new DfsError('UNAVAILABLE', 'the client is closed'));
  }

  private open(): grpc.ClientDuplexStream<SessionRequest, SessionResponse__Output> {
    const definition = masterServices().dfs.master.Metadata.service.Session;
    const stream = this.client.makeBidiStreamRequest<SessionRequest, SessionResponse__Output>(
      definition.path,
      definition.requestSerialize as (value: SessionRequest) => Buffer,
      decodeResponse,
      new grpc.Metadata(),
      {},
    );
    this.stream = stream;
    stream.on('data', (response: SessionResponse__Output) => this.settle(response));
    // Only a stream that ended by itself matters here; close() has already failed what was pending.
    const ended = (err: DfsError): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.failAll(err);
    };
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.UNIMPLEMENTED) this.unsupported = true;
      const e = fromGrpcError(err);
      ended(e.retryable || this.unsupported ? new DfsError('UNAVAILABLE', `the metadata session ended: ${e.message}`, { cause: e, details: e.details }) : e);
    });
    stream.on('end', () => ended(new DfsError('UNAVAILABLE', 'the master ended the metadata session')));
    return stream;
  }

  private settle(response: SessionResponse__Output): void {
    const waiting = this.pending.get(response.id);
    if (waiting === undefined) return; // timed out already
    this.pending.delete(response.id);
    clearTimeout(waiting.timer);
    if (response.outcome === 'results') {
      waiting.resolve(response.results?.results ?? []);
      return;
    }
    const error = response.error;
    const code = error?.code ?? '';
    const message = error?.message ?? '';
    waiting.reject(
      isErrorCode(code)
        ? new DfsError(code, message, { details: error?.leaderHint ? { leaderHint: error.leaderHint } : {} })
        : new DfsError('INTERNAL', `master answered with an unknown code ${JSON.stringify(code)}: ${message}`),
    );
  }

  private failAll(err: DfsError): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
