import { constants as osConstants } from 'node:os';
import { Counter, Histogram } from 'prom-client';
import type { MetricsRegistry } from '../common/metrics.js';
import { errnoOf } from './fuse-session.js';
import type { FileSystem } from './file-system.js';

/** errno -> name; where two names share a number (EAGAIN, EWOULDBLOCK) the first listed wins. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** Kernel requests take tens of microseconds from the caches, a Raft commit or a chunk's worth of data much longer. */
const DURATION_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The mount's file system with every operation counted and timed, by the
 * FileSystem method that served it (so one place covers every request the
 * kernel sends), and the bytes that reads returned and writes took.
 * Operations that answer nothing (forget) are passed through uncounted.
 */
export function meterFileSystem(inner: FileSystem, registry: MetricsRegistry): FileSystem {
  const operations = new Counter({
    name: 'dfs_mount_operations_total',
    help: 'File system requests from the kernel, by operation and result (ok, or the errno answered)',
    labelNames: ['operation', 'result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dfs_mount_operation_duration_seconds',
    help: 'Time to serve a file system request, by operation',
    labelNames: ['operation'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  const readBytes = new Counter({ name: 'dfs_mount_read_bytes_total', help: 'Bytes returned by reads through the mount', registers: [registry] });
  const writtenBytes = new Counter({ name: 'dfs_mount_written_bytes_total', help: 'Bytes accepted by writes through the mount', registers: [registry] });

  return new Proxy(inner, {
    get(target, property, receiver) {
      const member: unknown = Reflect.get(target, property, receiver);
      if (typeof member !== 'function' || typeof property !== 'string') return member;
      return (...args: unknown[]): unknown => {
        const stopTimer = duration.startTimer({ operation: property });
        const result: unknown = member.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (value: unknown) => {
            stopTimer();
            operations.inc({ operation: property, result: 'ok' });
            if (property === 'read' && Buffer.isBuffer(value)) readBytes.inc(value.length);
            if (property === 'write' && typeof value === 'number') writtenBytes.inc(value);
            return value;
          },
          (err: unknown) => {
            stopTimer();
            const { errno } = errnoOf(err);
            operations.inc({ operation: property, result: ERRNO_NAMES.get(errno) ?? String(errno) });
            throw err;
          },
        );
      };
    },
  });
}
