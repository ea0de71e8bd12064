import * as grpc from '@grpc/grpc-js';
import { DfsError } from '../common/errors.js';
import { masterServices } from '../proto/load.js';
import type { BatchRequest } from '../proto/generated/dfs/master/BatchRequest.js';
import type { MetadataClient } from '../proto/generated/dfs/master/Metadata.js';
import type { OpResult__Output } from '../proto/generated/dfs/master/OpResult.js';
import type { ReadBatchRequest } from '../proto/generated/dfs/master/ReadBatchRequest.js';
import type { SessionRequest } from '../proto/generated/dfs/master/SessionRequest.js';
import type { SessionResponse__Output } from '../proto/generated/dfs/master/SessionResponse.js';
import { decodeWithResults } from './batch-call.js';
import { SessionStream } from './session-stream.js';

export type SessionCall = { kind: 'batch'; request: BatchRequest } | { kind: 'readBatch'; request: ReadBatchRequest };

const noSessions = (): Promise<never> => Promise.reject(new DfsError('UNAVAILABLE', 'the master has no metadata sessions'));

function decodeResponse(bytes: Buffer): SessionResponse__Output {
  return decodeWithResults<SessionResponse__Output>('dfs.master.SessionResponse', bytes, (m) => m.results?.results);
}

/**
 * Metadata.Session with one master: Batch and ReadBatch requests as
 * messages on one stream (session-stream.ts). Each resolves or rejects as
 * its unary call would have, with the same DfsErrors; a master without
 * sessions (an older one) gets the unary call.
 */
export class MetadataSession {
  private readonly stream: SessionStream<SessionRequest, SessionResponse__Output>;

  constructor(client: MetadataClient) {
    const definition = masterServices().dfs.master.Metadata.service.Session;
    this.stream = new SessionStream(
      () =>
        client.makeBidiStreamRequest<SessionRequest, SessionResponse__Output>(
          definition.path,
          definition.requestSerialize as (value: SessionRequest) => Buffer,
          decodeResponse,
          new grpc.Metadata(),
          {},
        ),
      'metadata session',
    );
  }

  /** One request; `timeoutMs` bounds the wait for its answer. A master without sessions gets `unary` instead. */
  request(call: SessionCall, timeoutMs: number, unary: () => Promise<OpResult__Output[]> = noSessions): Promise<OpResult__Output[]> {
    return this.stream.orFallback(async () => {
      const answer = await this.stream.request((id) => (call.kind === 'batch' ? { id, batch: call.request } : { id, readBatch: call.request }), timeoutMs);
      return answer.results?.results ?? [];
    }, unary);
  }

  /** Requests waiting for an answer (observable by tests). */
  inFlight(): number {
    return this.stream.inFlight();
  }

  close(): void {
    this.stream.close();
  }
}
