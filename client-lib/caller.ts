import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import type { Caller } from './types.js';

const UINT32_MAX = 0xffffffff;

/**
 * This process's identity: its effective uid and gid and its supplementary
 * groups (the primary group left out: the master counts it anyway). Root
 * where the platform has no uids.
 */
export function processCaller(): Caller {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  const groups = [...new Set(process.getgroups?.() ?? [])].filter((g) => g !== gid);
  return { uid, gid, groups };
}

/** A caller as the wire carries it (the Caller message, every field set). */
export interface WireCaller {
  uid: number;
  gid: number;
  groups: number[];
}

/** A caller as the wire takes it, checked: ids are uint32s, at most LIMITS.callerGroupsMax groups. Throws INVALID_ARGUMENT. */
export function wireCaller(caller: Caller): WireCaller {
  const id = (value: number, what: string): number => {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new DfsError('INVALID_ARGUMENT', `${what} must be a uint32, not ${value}`);
    return value;
  };
  if (caller === null || typeof caller !== 'object' || !Array.isArray(caller.groups)) {
    throw new DfsError('INVALID_ARGUMENT', 'a caller is { uid, gid, groups }');
  }
  if (caller.groups.length > LIMITS.callerGroupsMax) {
    throw new DfsError('INVALID_ARGUMENT', `a caller may name at most ${LIMITS.callerGroupsMax} groups, not ${caller.groups.length}`);
  }
  return { uid: id(caller.uid, 'caller.uid'), gid: id(caller.gid, 'caller.gid'), groups: caller.groups.map((g) => id(g, 'caller.groups')) };
}
