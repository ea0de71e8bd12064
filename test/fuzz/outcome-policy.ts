import * as grpc from '@grpc/grpc-js';
import type { CallOutcome } from './wire-call.js';

/**
 * What a fuzzed call may end with: success, or a clear error. A clear error
 * is a status that says what was wrong with the request (or that the server
 * is rightly busy or not the leader), with a message a person can read.
 * Never INTERNAL or UNKNOWN (a bug reached the client), never a deadline (a
 * hang), never a transport failure (a server dropped the connection or died).
 */

const CLEAR = new Set<grpc.status>([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
]);

/**
 * UNAVAILABLE is legitimate only when a handler says so with a code: a
 * follower naming the leader, or a server that could not reach a peer the
 * request named. Without a dfs-code trailer it came from the transport.
 */
const UNAVAILABLE_CODES = new Set(['NOT_LEADER', 'UNAVAILABLE']);

/** undefined when the outcome is acceptable; else why not. */
export function outcomeProblem(o: CallOutcome): string | undefined {
  if (o.code === grpc.status.CANCELLED && o.cancelledByUs) return undefined;
  if (o.code !== grpc.status.OK && o.details.trim().length === 0) return `${grpc.status[o.code]} without a message`;
  if (CLEAR.has(o.code)) return undefined;
  if (o.code === grpc.status.UNAVAILABLE && o.dfsCode !== undefined && UNAVAILABLE_CODES.has(o.dfsCode)) return undefined;
  // A replica that fails a packet's checksum says so with its code: the request's bytes were bad.
  if (o.code === grpc.status.DATA_LOSS && o.dfsCode === 'CHECKSUM_MISMATCH') return undefined;
  if (o.code === grpc.status.DEADLINE_EXCEEDED) return `no answer within the deadline (${o.elapsedMs} ms): a hang`;
  return `${grpc.status[o.code]}${o.dfsCode ? ` (${o.dfsCode})` : ' (no dfs-code: from the transport)'}: ${o.details}`;
}

/** The label a status gets in the summary table. */
export function outcomeLabel(o: CallOutcome): string {
  if (o.code === grpc.status.CANCELLED && o.cancelledByUs) return 'CANCELLED*';
  return grpc.status[o.code] ?? String(o.code);
}
