import type * as grpc from '@grpc/grpc-js';
import type { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { SessionServer, type RefusedSessionRequest, type SessionMessage } from '../common/session-server.js';
import type { ChunkserverContext } from './chunkserver-context.js';

/** How a session answers a request that failed: its id and the error (proto SessionError). */
export interface FailedAnswer {
  id: number;
  error: { code: string; message: string };
}

export interface ChunkSessionSpec<Req, Res> {
  /** The ChunkData call a request stands for ('Read', 'Append'): metrics count it as one. */
  call: string;
  /** Requests served at once per session. */
  inFlightMax: number;
  serve: (request: Req) => Promise<Res>;
}

/**
 * A ChunkData session (ReadSession, AppendSession): requests as messages on
 * one stream per client, each served as the call it stands for and answered
 * under its id, a failure answered with its error. Chunk access tokens were
 * checked per message by the auth interceptor, which hands a refused request
 * over as a RefusedSessionRequest.
 */
export class ChunkSessions<Req extends SessionMessage, Res> {
  private readonly server: SessionServer<Req, Res | FailedAnswer>;

  constructor(
    ctx: ChunkserverContext,
    metrics: GrpcServerMetrics | undefined,
    private readonly spec: ChunkSessionSpec<Req, Res>,
  ) {
    this.server = new SessionServer({
      inFlightMax: spec.inFlightMax,
      metrics,
      pathOf: () => `/dfs.chunk.ChunkData/${spec.call}`,
      onInternal: (err) => ctx.logger.error({ err, call: spec.call }, 'internal error in a session request'),
    });
  }

  handler(): grpc.handleBidiStreamingCall<Req | RefusedSessionRequest, Res | FailedAnswer> {
    return this.server.handler(this.spec.serve, (id, error) => ({ id, error: { code: error.code, message: error.message } }));
  }

  /** Ends every session: the chunkserver is stopping. */
  endAll(): void {
    this.server.endAll('this chunkserver is stopping');
  }
}
