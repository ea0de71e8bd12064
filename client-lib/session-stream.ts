import * as grpc from '@grpc/grpc-js';
import { DfsError, isErrorCode } from '../common/errors.js';
import { fromGrpcError } from '../common/grpc-errors.js';

/** An answer on a session stream: the request's id, and its outcome. */
export interface SessionAnswer {
  id: number;
  error?: { code: string; message: string; leaderHint?: string } | null;
}

interface Pending<Res> {
  resolve(answer: Res): void;
  reject(err: DfsError): void;
  timer: NodeJS.Timeout;
}

const UINT32_SPAN = 2 ** 32;

/**
 * The client's side of a session stream with one server (see
 * common/session-server.ts): requests as messages on one bidirectional
 * call, opened on first use and again after it ends, each matched to its
 * answer by id and bounded by its own deadline. An answer that carries an
 * error rejects with it, as the unary call's status would have; requests in
 * flight when the stream breaks fail UNAVAILABLE (retryable), or with the
 * stream's own error when that is not retryable (refused credentials). A
 * server that does not know the method (an older one) answers
 * UNIMPLEMENTED: from then on `orFallback` makes calls of their own.
 */
export class SessionStream<Req, Res extends SessionAnswer> {
  private stream: grpc.ClientDuplexStream<Req, Res> | undefined;
  private readonly pending = new Map<number, Pending<Res>>();
  private nextId = 0;
  private closed = false;
  /** The server answered UNIMPLEMENTED: it has no such sessions. */
  private unsupported = false;

  constructor(
    private readonly openStream: () => grpc.ClientDuplexStream<Req, Res>,
    /** What the stream is, for error messages ("metadata session"). */
    private readonly what: string,
  ) {}

  /** Sends the request `build` makes with its id; resolves with its answer, which carries no error. */
  request(build: (id: number) => Req, timeoutMs: number): Promise<Res> {
    if (this.closed) return Promise.reject(new DfsError('UNAVAILABLE', 'the client is closed'));
    const stream = this.stream ?? this.open();
    this.nextId = (this.nextId + 1) % UINT32_SPAN;
    const id = this.nextId;
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DfsError('TIMEOUT', `no answer on the ${this.what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      stream.write(build(id));
    });
  }

  /**
   * `viaSession` (requests on this session), unless the server has no such
   * sessions, known already or learned from this very request: then
   * `fallback`, calls of their own.
   */
  async orFallback<T>(viaSession: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (this.unsupported) return fallback();
    try {
      return await viaSession();
    } catch (err) {
      if (this.unsupported) return fallback();
      throw err;
    }
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

  private open(): grpc.ClientDuplexStream<Req, Res> {
    const stream = this.openStream();
    this.stream = stream;
    stream.on('data', (answer: Res) => this.settle(answer));
    // Only a stream that ended by itself matters here; close() has already failed what was pending.
    const ended = (err: DfsError): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.failAll(err);
    };
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.UNIMPLEMENTED) this.unsupported = true;
      const e = fromGrpcError(err);
      ended(e.retryable || this.unsupported ? new DfsError('UNAVAILABLE', `the ${this.what} ended: ${e.message}`, { cause: e, details: e.details }) : e);
    });
    stream.on('end', () => ended(new DfsError('UNAVAILABLE', `the server ended the ${this.what}`)));
    return stream;
  }

  private settle(answer: Res): void {
    const waiting = this.pending.get(answer.id);
    if (waiting === undefined) return; // timed out already
    this.pending.delete(answer.id);
    clearTimeout(waiting.timer);
    const error = answer.error;
    if (!error) {
      waiting.resolve(answer);
      return;
    }
    waiting.reject(
      isErrorCode(error.code)
        ? new DfsError(error.code, error.message, { details: error.leaderHint ? { leaderHint: error.leaderHint } : {} })
        : new DfsError('INTERNAL', `the server answered with an unknown code ${JSON.stringify(error.code)}: ${error.message}`),
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
