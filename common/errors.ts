import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * The closed list of expected failures. Each code maps once to a gRPC status
 * (on the wire), once to an errno (for FUSE), and says once whether a retry
 * may succeed. Nothing else decides retryability: never match on messages.
 */
export const ERROR_CODES = {
  NOT_LEADER: { grpc: GrpcStatus.UNAVAILABLE, errno: 'EIO', retryable: true },
  UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, errno: 'EIO', retryable: true },
  TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, errno: 'ETIMEDOUT', retryable: true },
  OVERLOADED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, errno: 'EAGAIN', retryable: true },
  NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, errno: 'ENOENT', retryable: false },
  ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, errno: 'EEXIST', retryable: false },
  // The caller lacks a permission bit (search, read, write) on an inode.
  PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, errno: 'EACCES', retryable: false },
  // An ownership rule forbids it whatever the mode: chmod or chown by a non-owner, a sticky
  // directory, a hard link to a directory, a device made by a non-root caller.
  NOT_PERMITTED: { grpc: GrpcStatus.PERMISSION_DENIED, errno: 'EPERM', retryable: false },
  // No valid certificate or token, or the identity's role may not call this service.
  UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, errno: 'EACCES', retryable: false },
  // A chunk access token past its expiry: ask the master for fresh locations (or lease) and try again.
  TOKEN_EXPIRED: { grpc: GrpcStatus.UNAUTHENTICATED, errno: 'EACCES', retryable: true },
  // An inode already has LIMITS.linksMax hard links.
  TOO_MANY_LINKS: { grpc: GrpcStatus.FAILED_PRECONDITION, errno: 'EMLINK', retryable: false },
  INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, errno: 'EINVAL', retryable: false },
  NAME_TOO_LONG: { grpc: GrpcStatus.INVALID_ARGUMENT, errno: 'ENAMETOOLONG', retryable: false },
  TOO_LARGE: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, errno: 'EFBIG', retryable: false },
  NOT_A_DIRECTORY: { grpc: GrpcStatus.FAILED_PRECONDITION, errno: 'ENOTDIR', retryable: false },
  IS_A_DIRECTORY: { grpc: GrpcStatus.FAILED_PRECONDITION, errno: 'EISDIR', retryable: false },
  NOT_EMPTY: { grpc: GrpcStatus.FAILED_PRECONDITION, errno: 'ENOTEMPTY', retryable: false },
  // The caller's view of a chunk is older than the replica's, or the replica's
  // is older than the caller's: refresh locations and try again.
  STALE_VERSION: { grpc: GrpcStatus.FAILED_PRECONDITION, errno: 'EIO', retryable: true },
  // The receiver holds no valid lease for the chunk at that version: ask the master again.
  LEASE_EXPIRED: { grpc: GrpcStatus.ABORTED, errno: 'EIO', retryable: true },
  // A replica in the write pipeline failed; the master will drop it and bump the version.
  CHAIN_FAILURE: { grpc: GrpcStatus.ABORTED, errno: 'EIO', retryable: true },
  // The record does not fit in the chunk; it belongs on the next chunk.
  CHUNK_FULL: { grpc: GrpcStatus.OUT_OF_RANGE, errno: 'EIO', retryable: false },
  CHECKSUM_MISMATCH: { grpc: GrpcStatus.DATA_LOSS, errno: 'EIO', retryable: true },
  NO_SPACE: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, errno: 'ENOSPC', retryable: false },
  INTERNAL: { grpc: GrpcStatus.INTERNAL, errno: 'EIO', retryable: false },
} as const satisfies Record<string, { grpc: GrpcStatus; errno: string; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

export interface ErrorDetails {
  /** NOT_LEADER: the address of the leader, when known. */
  leaderHint?: string;
  /** CHAIN_FAILURE: ids of the replicas that failed. */
  failedServerIds?: readonly string[];
  /**
   * The peer never answered (no connection, or the transport failed): the
   * status came from the local gRPC stack, not from the peer's handler.
   */
  fromTransport?: boolean;
}

export class DfsError extends Error {
  override name = 'DfsError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_CODES[this.code].grpc;
  }

  get errno(): string {
    return ERROR_CODES[this.code].errno;
  }
}

export function isDfsError(err: unknown, code?: ErrorCode): err is DfsError {
  return err instanceof DfsError && (code === undefined || err.code === code);
}

/** Shorthands that keep call sites to one line. */
export const errors = {
  notFound: (what: string) => new DfsError('NOT_FOUND', `${what} not found`),
  exists: (what: string) => new DfsError('ALREADY_EXISTS', `${what} already exists`),
  invalid: (message: string) => new DfsError('INVALID_ARGUMENT', message),
  unavailable: (message: string, cause?: unknown) => new DfsError('UNAVAILABLE', message, { cause }),
  internal: (message: string, cause?: unknown) => new DfsError('INTERNAL', message, { cause }),
};
