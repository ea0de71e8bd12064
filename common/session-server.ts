import * as grpc from '@grpc/grpc-js';
import { DfsError } from './errors.js';
import { toStatus } from './grpc-errors.js';
import type { GrpcServerMetrics } from './grpc-metrics.js';

/** A request on a session stream: the client's id, echoed in its answer. */
export interface SessionMessage {
  id: number;
}

/** A failure as a session answer carries it (the OpError message): code, message, and NOT_LEADER's hint. */
export interface SessionError {
  code: string;
  message: string;
  leaderHint: string;
}

export interface SessionServerOptions<Req> {
  /** Requests served at once per session; beyond it the stream is paused (no more is read) until one is answered. */
  inFlightMax: number;
  /** Counts and times each request as the call it stands for (`pathOf`), so the figures do not depend on how it travelled. */
  metrics?: GrpcServerMetrics;
  /** The call a request stands for ("/dfs.master.Metadata/Batch"); undefined: not counted. */
  pathOf?: (request: Req | RefusedSessionRequest) => string | undefined;
  /** A failure that is not a DfsError, or an INTERNAL one: a bug. */
  onInternal?: (err: unknown) => void;
}

/**
 * The server's side of a session stream (a bidirectional call on which a
 * client sends many requests, each with an id, instead of one call each: a
 * message on an open stream costs a fraction of a call). Each request is
 * served by `serve` and answered under its id as soon as it settles, in any
 * order; a request that fails (or that an interceptor refused) is answered
 * by `failed`, so one request's error never ends the stream. The stream ends
 * when the client closes it or goes away, or with UNAVAILABLE from `endAll`
 * when the server stops.
 */
export class SessionServer<Req extends SessionMessage, Res> {
  private readonly open = new Set<grpc.ServerDuplexStream<Req | RefusedSessionRequest, Res>>();

  constructor(private readonly options: SessionServerOptions<Req>) {}

  handler(serve: (request: Req) => Promise<Res>, failed: (id: number, error: SessionError) => Res): grpc.handleBidiStreamingCall<Req | RefusedSessionRequest, Res> {
    return (call) => this.serve(call, (request) => this.answer(request, serve, failed));
  }

  /** Sessions open now (observable by tests). */
  openSessions(): number {
    return this.open.size;
  }

  /** Ends every session with UNAVAILABLE, so clients move elsewhere at once rather than at their deadlines. */
  endAll(reason: string): void {
    for (const call of this.open) call.emit('error', toStatus(new DfsError('UNAVAILABLE', reason)));
    this.open.clear();
  }

  /** Never rejects: a failure is an answer. */
  private async answer(request: Req | RefusedSessionRequest, serve: (request: Req) => Promise<Res>, failed: (id: number, error: SessionError) => Res): Promise<Res> {
    const startedAt = performance.now();
    const record = (code: grpc.status, dfsCode: string | undefined): void => {
      const path = this.options.pathOf?.(request);
      if (path !== undefined) this.options.metrics?.record(path, code, dfsCode, (performance.now() - startedAt) / 1000);
    };
    try {
      if (request instanceof RefusedSessionRequest) throw request.error;
      const response = await serve(request);
      record(grpc.status.OK, undefined);
      return response;
    } catch (err) {
      const e = err instanceof DfsError ? err : new DfsError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
      if (e.code === 'INTERNAL') this.options.onInternal?.(err);
      record(e.grpcStatus, e.code);
      return failed(request.id, { code: e.code, message: e.message, leaderHint: e.details.leaderHint ?? '' });
    }
  }

  private serve(call: grpc.ServerDuplexStream<Req | RefusedSessionRequest, Res>, answer: (request: Req | RefusedSessionRequest) => Promise<Res>): void {
    const inFlightMax = this.options.inFlightMax;
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
    call.on('data', (request: Req | RefusedSessionRequest) => {
      if (closed) return;
      if (++inFlight >= inFlightMax) call.pause();
      void answer(request).then((response) => {
        inFlight--;
        if (closed) return;
        call.write(response);
        if (inFlight === inFlightMax - 1) call.resume();
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
}

/**
 * A request the server's interceptors refused (a read session's chunk
 * token, checked per message): it reaches the handler as this, to be
 * answered with the error, so the session's other requests go on.
 */
export class RefusedSessionRequest {
  constructor(
    readonly id: number,
    /** Answered as any failure is: a DfsError keeps its code, anything else is INTERNAL. */
    readonly error: unknown,
  ) {}
}
