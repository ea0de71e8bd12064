import { LIMITS } from '../common/limits.js';
import { DfsError } from '../common/errors.js';
import { parseWireInteger } from '../common/ids.js';
import { splitPath } from '../common/path.js';
import type { RequestId, RequestId__Output } from '../proto/generated/dfs/RequestId.js';

/**
 * Checks on what a client sent, before anything is proposed: bad input gets a
 * clear INVALID_ARGUMENT and never reaches the log.
 */
export function requireRequestId(id: RequestId__Output | null): RequestId {
  if (id === null || typeof id.clientId !== 'string' || id.clientId.length === 0 || Buffer.byteLength(id.clientId) > LIMITS.clientIdMaxBytes) {
    throw new DfsError('INVALID_ARGUMENT', `request_id.client_id must be 1 to ${LIMITS.clientIdMaxBytes} bytes`);
  }
  const seq = parseWireInteger(id.seq);
  if (seq === undefined || seq === 0) throw new DfsError('INVALID_ARGUMENT', 'request_id.seq must be a positive integer');
  return { clientId: id.clientId, seq: String(seq) };
}

export function requirePath(path: string, field = 'path'): string {
  try {
    splitPath(path);
  } catch (err) {
    if (err instanceof DfsError) throw new DfsError(err.code, `${field}: ${err.message}`);
    throw err;
  }
  return path;
}

export function requireMode(mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new DfsError('INVALID_ARGUMENT', `mode ${mode} is not a permission mode (0 to 07777)`);
  }
  return mode;
}
