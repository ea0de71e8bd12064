import { LIMITS } from '../common/limits.js';
import { DfsError } from '../common/errors.js';
import { parseWireInteger } from '../common/ids.js';
import { splitPath } from '../common/path.js';
import { requireInteger } from '../common/wire-validation.js';
import { requireName } from './names.js';
import type { RequestId, RequestId__Output } from '../proto/generated/dfs/RequestId.js';
import type { Caller__Output } from '../proto/generated/dfs/Caller.js';

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

/**
 * A request's caller, or undefined when it names none. Its ids are uint32s
 * by the wire's own type; its groups are bounded by LIMITS.callerGroupsMax.
 */
export function requireCaller(caller: Caller__Output | null | undefined): { uid: number; gid: number; groups: number[] } | undefined {
  if (caller === null || caller === undefined) return undefined;
  if (caller.groups.length > LIMITS.callerGroupsMax) {
    throw new DfsError('INVALID_ARGUMENT', `a caller may name at most ${LIMITS.callerGroupsMax} groups, not ${caller.groups.length}`);
  }
  return { uid: caller.uid, gid: caller.gid, groups: caller.groups };
}

/** An inode field: a positive safe integer. */
export function requireInode(value: string, field: string): number {
  const inode = requireInteger(value, field);
  if (inode === 0) throw new DfsError('INVALID_ARGUMENT', `${field} must name an inode`);
  return inode;
}

/** An entry name, checked as the state machine will check it, so that a bad one never reaches the log. */
export function requireEntryName(name: string, field: string): string {
  try {
    requireName(name);
  } catch (err) {
    if (err instanceof DfsError) throw new DfsError(err.code, `${field}: ${err.message}`);
    throw err;
  }
  return name;
}
