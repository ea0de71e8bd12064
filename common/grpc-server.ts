import * as grpc from '@grpc/grpc-js';
import type * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { assert } from './assert.js';
import { toStatus } from './grpc-errors.js';
import type { GrpcServerMetrics } from './grpc-metrics.js';
import { LIMITS } from './limits.js';
import { serverCredentials, type TransportSecurity } from '../security/transport-security.js';
import { tolerantServiceDefinition, undecodableRequestInterceptor } from './undecodable-request.js';

export interface GrpcServerOptions {
  /** Address to listen on, e.g. 127.0.0.1 or 0.0.0.0. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxMessageBytes: number;
  /**
   * Raise the HTTP/2 receive windows to LIMITS.dataWindowBytes. grpc-js has no
   * server option for it and its default (64 KiB) halves streaming throughput
   * (STACK-NOTES.md), so we set it through the two private fields below; the
   * exact grpc-js version is pinned and test/unit/grpc-window.test.ts proves
   * that the setting is in effect.
   */
  largeWindow: boolean;
  /** Counts and times every RPC of every service registered (an interceptor). */
  metrics?: GrpcServerMetrics;
  /** TLS or plaintext (security/transport-security.ts). */
  security: TransportSecurity;
  /** Authenticates and authorizes every call before its handler (security/auth-interceptor.ts); after metrics, so refusals are counted. */
  auth?: grpc.ServerInterceptor;
}

export interface StartedServer {
  server: grpc.Server;
  port: number;
  /** Sessions whose receive window was raised (observable by tests). */
  tunedSessions(): number;
}

interface GrpcServerInternals {
  commonServerOptions: http2.ServerOptions;
  http2Servers: Map<http2.Http2Server, unknown>;
}

export async function startGrpcServer(
  register: (server: grpc.Server) => void,
  options: GrpcServerOptions,
): Promise<StartedServer> {
  const server = new grpc.Server({
    'grpc.enable_channelz': 0,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    // The first is nearest the transport: metrics see every status, the last answers an undecodable request from an authenticated peer.
    interceptors: [...(options.metrics ? [options.metrics.interceptor()] : []), ...(options.auth ? [options.auth] : []), undecodableRequestInterceptor()],
  });
  const addService = server.addService.bind(server);
  server.addService = (service, implementation) => addService(tolerantServiceDefinition(service), implementation);
  const internals = server as unknown as GrpcServerInternals;
  let tuned = 0;
  if (options.largeWindow) {
    assert(typeof internals.commonServerOptions === 'object', 'grpc-js internals changed: commonServerOptions');
    internals.commonServerOptions.settings = {
      ...internals.commonServerOptions.settings,
      initialWindowSize: LIMITS.dataWindowBytes,
    };
  }
  register(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, serverCredentials(options.security), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  assert(internals.http2Servers instanceof Map, 'grpc-js internals changed: http2Servers');
  for (const http2Server of internals.http2Servers.keys()) {
    // grpc-js sets TCP_NODELAY on its client sockets only; small replies must
    // not wait for Nagle's algorithm on ours either.
    http2Server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      if (options.largeWindow) {
        // The connection-level window; the per-stream one travels in SETTINGS.
        session.setLocalWindowSize(LIMITS.dataWindowBytes);
        tuned++;
      }
    });
  }
  return { server, port, tunedSessions: () => tuned };
}

export async function stopGrpcServer(server: grpc.Server, graceMs = 2_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Wraps a promise-returning handler: every error leaves as a typed status. */
export function unary<Req, Res>(
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
  onInternalError?: (err: unknown) => void,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => {
        const status = toStatus(err);
        if (status.code === grpc.status.INTERNAL) onInternalError?.(err);
        callback(status);
      },
    );
  };
}

/** Ends a server stream with a typed error status. */
export function failStream(call: { emit(event: 'error', err: grpc.StatusObject): boolean }, err: unknown): void {
  call.emit('error', toStatus(err));
}

/**
 * grpc-js backs off reconnecting to an unreachable peer up to two minutes by
 * default; a restarted chunkserver or master must be reachable again within
 * seconds.
 */
const RECONNECT_BACKOFF = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
} as const;

/**
 * Bookkeeping we pay for per call and never use: channelz statistics, and
 * grpc-js's own retries, which buffer every message in case of a retry (the
 * client library and the pipeline retry by themselves, with typed errors).
 */
const NO_HIDDEN_WORK = {
  'grpc.enable_channelz': 0,
  'grpc.enable_retries': 0,
  // Servers are told apart by their certificates' roles, not host names
  // (security/transport-security.ts); a fixed TLS server name also keeps Node
  // from warning that an IP address is not a valid SNI name.
  'grpc.ssl_target_name_override': 'dfs',
} as const;

/** What every channel we open shares, whatever it carries. */
export function baseChannelOptions(): grpc.ChannelOptions {
  return {
    ...RECONNECT_BACKOFF,
    ...NO_HIDDEN_WORK,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

/** Client channel options for data connections: the client half of the window tuning. */
export function dataChannelOptions(): grpc.ChannelOptions {
  return {
    ...RECONNECT_BACKOFF,
    ...NO_HIDDEN_WORK,
    'grpc-node.flow_control_window': LIMITS.dataWindowBytes,
    'grpc.max_receive_message_length': LIMITS.dataMessageMaxBytes,
    'grpc.max_send_message_length': LIMITS.dataMessageMaxBytes,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

export function metadataChannelOptions(): grpc.ChannelOptions {
  return {
    ...RECONNECT_BACKOFF,
    ...NO_HIDDEN_WORK,
    'grpc.max_receive_message_length': LIMITS.metadataMessageMaxBytes,
    'grpc.max_send_message_length': LIMITS.metadataMessageMaxBytes,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}
