import type * as grpc from '@grpc/grpc-js';
import { DfsError } from './errors.js';
import { toStatus } from './grpc-errors.js';

/** A request or an answer on a session stream: the client's id, echoed. */
export interface SessionMessage {
  id: number;
}

export interface SessionServerOptions {
  /** Requests served at once per session; beyond it the stream is paused (no more is read) until one is answered. */
  inFlightMax: number;
}

/**
 * The server's side of a session stream (a bidirectional call on which a
 * client sends many requests, each with an id, instead of one call each: a
 * message on an open stream costs a fraction of a call). Each request is
 * answered under its id as soon as `answer` settles it, in any order; an
 * `answer` must turn its failures into answers, so one request's error
 * never ends the stream. The stream ends when the client closes it or goes
 * away, or with UNAVAILABLE from `endAll` when the server stops.
 */
export class SessionServer<Req, Res> {
  private readonly open = new Set<grpc.ServerDuplexStream<Req, Res>>();

  constructor(private readonly options: SessionServerOptions) {}

  handler(answer: (request: Req) => Promise<Res>): grpc.handleBidiStreamingCall<Req, Res> {
    return (call) => this.serve(call, answer);
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

  private serve(call: grpc.ServerDuplexStream<Req, Res>, answer: (request: Req) => Promise<Res>): void {
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
    call.on('data', (request: Req) => {
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
    readonly error: DfsError,
  ) {}
}

/** A failure as a session answer carries it (the OpError message): code, message, and NOT_LEADER's hint. */
export function sessionError(err: unknown): { code: string; message: string; leaderHint: string } {
  const e = err instanceof DfsError ? err : new DfsError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  return { code: e.code, message: e.message, leaderHint: e.details.leaderHint ?? '' };
}
