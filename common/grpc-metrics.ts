import * as grpc from '@grpc/grpc-js';
import { Counter, Histogram } from 'prom-client';
import { DFS_CODE_TRAILER } from './grpc-errors.js';
import type { MetricsRegistry } from './metrics.js';

type RpcLabels = 'service' | 'method';

const STATUS_NAMES = new Map<number, string>(
  Object.entries(grpc.status)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([name, code]) => [code, name]),
);

/**
 * Streams (a write pipeline, a chunk copy) last as long as their data; unary
 * calls take milliseconds. One set of buckets spans both.
 */
const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Requests a gRPC server handled, counted once for every service on it by a
 * server interceptor (startGrpcServer's `metrics` option), so no handler
 * counts anything itself. It sees the raw-frame services of the chunkserver
 * and the Raft transport like any other: only the path and the final status
 * matter here. Labels are bounded: methods are those registered (grpc-js
 * answers unknown paths before interceptors run), codes come from closed lists.
 */
export class GrpcServerMetrics {
  private readonly handled: Counter<RpcLabels | 'code'>;
  private readonly failed: Counter<RpcLabels | 'dfs_code'>;
  private readonly duration: Histogram<RpcLabels>;

  constructor(registry: MetricsRegistry) {
    this.handled = new Counter({
      name: 'dfs_grpc_server_handled_total',
      help: 'RPCs completed by this server, by service, method and gRPC status code (CANCELLED: the caller went away); a request on a session (metadata or read) counts as the call it stands for',
      labelNames: ['service', 'method', 'code'],
      registers: [registry],
    });
    this.failed = new Counter({
      name: 'dfs_grpc_server_errors_total',
      help: 'RPCs that failed, by service, method and DfsError code (the dfs-code trailer; INTERNAL without one)',
      labelNames: ['service', 'method', 'dfs_code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'dfs_grpc_server_handling_seconds',
      help: 'Time from the start of an RPC to its final status (whole streams for streaming RPCs; a request on a session as the call it stands for), by service and method',
      labelNames: ['service', 'method'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    });
  }

  interceptor(): grpc.ServerInterceptor {
    return (descriptor, call) => {
      const startedAt = performance.now();
      let finished = false;
      const finish = (code: number, dfsCode: string | undefined): void => {
        if (finished) return;
        finished = true;
        this.record(descriptor.path, code, dfsCode, (performance.now() - startedAt) / 1000);
      };
      return new grpc.ServerInterceptingCall(call, {
        start: (next) => next({ onCancel: () => finish(grpc.status.CANCELLED, undefined) }),
        sendStatus: (status, next) => {
          const sent = status.metadata?.get(DFS_CODE_TRAILER)[0];
          finish(status.code, typeof sent === 'string' ? sent : undefined);
          next(status);
        },
      });
    };
  }

  /**
   * One request that ended with `code` (a gRPC status) after `seconds`, as if
   * it had been a call to `path`: a Batch on a metadata session is counted
   * as a Batch call, a read on a read session as a Read.
   */
  record(path: string, code: number, dfsCode: string | undefined, seconds: number): void {
    const labels = rpcLabels(path);
    this.duration.observe(labels, seconds);
    this.handled.inc({ ...labels, code: STATUS_NAMES.get(code) ?? String(code) });
    if (code !== grpc.status.OK && code !== grpc.status.CANCELLED) this.failed.inc({ ...labels, dfs_code: dfsCode ?? 'INTERNAL' });
  }
}

/** "/dfs.chunk.ChunkData/Read" -> service "dfs.chunk.ChunkData", method "Read". */
function rpcLabels(path: string): Record<RpcLabels, string> {
  const slash = path.lastIndexOf('/');
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}
