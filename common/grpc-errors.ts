import * as grpc from '@grpc/grpc-js';
import { DfsError, ERROR_CODES, isErrorCode, type ErrorCode } from './errors.js';

/** Trailers that carry a DfsError across the wire, beside the gRPC status. */
export const DFS_CODE_TRAILER = 'dfs-code';
const LEADER_KEY = 'dfs-leader';
const FAILED_KEY = 'dfs-failed';

/**
 * The status object a handler returns for any thrown value. A DfsError keeps its
 * code; anything else is a bug on our side and becomes INTERNAL, never UNKNOWN.
 */
export function toStatus(err: unknown): grpc.StatusObject {
  const e = err instanceof DfsError ? err : new DfsError('INTERNAL', describe(err), { cause: err });
  const metadata = new grpc.Metadata();
  metadata.set(DFS_CODE_TRAILER, e.code);
  if (e.details.leaderHint) metadata.set(LEADER_KEY, e.details.leaderHint);
  if (e.details.failedServerIds?.length) metadata.set(FAILED_KEY, e.details.failedServerIds.join(','));
  return { code: e.grpcStatus, details: boundedDetails(e.message), metadata };
}

/**
 * Characters of an error message sent as the status's details. Messages quote
 * what the peer sent (a path, an id), and the details travel in an HTTP/2
 * trailer: one too large for the peer's header limit (a 256 KiB path) never
 * arrives, so the call hangs and the connection is dropped. Percent-encoding
 * may grow a character to 9 bytes; this keeps the trailer under 16 KiB.
 */
export const STATUS_DETAILS_MAX_CHARS = 1024;

function boundedDetails(message: string): string {
  const cut = message.length <= STATUS_DETAILS_MAX_CHARS ? message : `${message.slice(0, STATUS_DETAILS_MAX_CHARS)}… (${message.length} characters in all)`;
  // grpc-js percent-encodes the details with encodeURI, which throws on a lone
  // surrogate (a string field of invalid UTF-8 decodes to one, and a cut may
  // split a pair): the status would never be sent.
  return cut.replace(/\p{Cs}/gu, '\ufffd');
}

/** What a client makes of a failed call: the sender's DfsError, or one derived from the transport's status. */
export function fromGrpcError(err: unknown): DfsError {
  if (err instanceof DfsError) return err;
  const status = err as Partial<grpc.ServiceError>;
  if (typeof status?.code !== 'number') return new DfsError('INTERNAL', describe(err), { cause: err });
  const metadata = status.metadata;
  const sent = metadata?.get(DFS_CODE_TRAILER)[0];
  const message = status.details || status.message || 'remote error';
  if (typeof sent === 'string' && isErrorCode(sent)) {
    const leaderHint = metadata?.get(LEADER_KEY)[0];
    const failed = metadata?.get(FAILED_KEY)[0];
    return new DfsError(sent, message, {
      cause: err,
      details: {
        ...(typeof leaderHint === 'string' ? { leaderHint } : {}),
        ...(typeof failed === 'string' ? { failedServerIds: failed.split(',') } : {}),
      },
    });
  }
  return new DfsError(codeForTransportStatus(status.code), message, { cause: err, details: { fromTransport: true } });
}

/** Statuses that grpc-js itself produces, with no dfs-code trailer. */
function codeForTransportStatus(code: grpc.status): ErrorCode {
  switch (code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
      return 'UNAVAILABLE';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'TIMEOUT';
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'TOO_LARGE';
    case grpc.status.INVALID_ARGUMENT:
      return 'INVALID_ARGUMENT';
    default:
      return 'INTERNAL';
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export function grpcStatusOf(code: ErrorCode): grpc.status {
  return ERROR_CODES[code].grpc;
}
