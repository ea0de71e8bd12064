import { errors } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import type { Caller, TimeChange } from './permissions.js';

/**
 * Readers for the fields of decoded log entries (and session records). 64-bit values
 * arrive as decimal strings (proto/load.ts CONVERSION); in memory they are
 * numbers, so anything that is not a safe integer is refused rather than
 * rounded. Absent values read as the proto3 default.
 */

const UNSIGNED = /^\d{1,16}$/;
const SIGNED = /^-?\d{1,16}$/;

/** A uint64 as a safe integer, or undefined when it is not one. */
export function readUint64(value: unknown): number | undefined {
  return readInteger(value, UNSIGNED, 0);
}

/** An int64 as a safe integer, or undefined when it is not one. */
export function readInt64(value: unknown): number | undefined {
  return readInteger(value, SIGNED, Number.MIN_SAFE_INTEGER);
}

/** A uint32 field; throws INVALID_ARGUMENT when it is not one. */
export function readUint32(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value;
  throw errors.invalid(`${what} is not a uint32: ${String(value)}`);
}

/** A bool field; throws INVALID_ARGUMENT when it is not one. */
export function readBool(value: unknown, what: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  throw errors.invalid(`${what} is not a bool: ${String(value)}`);
}

/** A string field; throws INVALID_ARGUMENT when it is not one. */
export function readString(value: unknown, what: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  throw errors.invalid(`${what} is not a string`);
}

function readInteger(value: unknown, pattern: RegExp, min: number): number | undefined {
  if (value === undefined || value === null || value === '') return 0;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && pattern.test(value)) n = Number(value);
  else return undefined;
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

/**
 * A request's Caller, or undefined when it carries none (nothing is then
 * checked). Throws INVALID_ARGUMENT for ids that are not uint32s and for more
 * than LIMITS.callerGroupsMax groups.
 */
export function readCaller(value: unknown): Caller | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') throw errors.invalid('caller is not a message');
  const caller = value as { uid?: unknown; gid?: unknown; groups?: unknown };
  const groups = caller.groups ?? [];
  if (!Array.isArray(groups)) throw errors.invalid('caller.groups is not a list');
  if (groups.length > LIMITS.callerGroupsMax) throw errors.invalid(`a caller may name at most ${LIMITS.callerGroupsMax} groups`);
  return {
    uid: readUint32(caller.uid, 'caller.uid'),
    gid: readUint32(caller.gid, 'caller.gid'),
    groups: groups.map((g: unknown) => readUint32(g, 'caller.groups')),
  };
}

/** The permission, owner and time changes of a SetAttr entry; a time set both explicitly and to now is INVALID_ARGUMENT. */
export function readAttrChanges(set: {
  mode?: unknown;
  uid?: unknown;
  gid?: unknown;
  atimeUs?: unknown;
  mtimeUs?: unknown;
  atimeNow?: unknown;
  mtimeNow?: unknown;
}): { mode?: number | undefined; uid?: number | undefined; gid?: number | undefined; atime?: TimeChange; mtime?: TimeChange } {
  // proto3 optional: a field the sender left out is absent (undefined) after decoding.
  const given = (value: unknown): boolean => value !== undefined && value !== null;
  const time = (value: unknown, now: unknown, what: string): TimeChange => {
    const isNow = readBool(now, `${what}_now`);
    if (!given(value)) return isNow ? 'now' : undefined;
    if (isNow) throw errors.invalid(`${what} is set both to a time and to now`);
    const us = readInt64(value);
    if (us === undefined) throw errors.invalid(`${what} ${String(value)} is not a safe integer`);
    return us;
  };
  return {
    mode: given(set.mode) ? readUint32(set.mode, 'mode') & 0o7777 : undefined,
    uid: given(set.uid) ? readUint32(set.uid, 'uid') : undefined,
    gid: given(set.gid) ? readUint32(set.gid, 'gid') : undefined,
    atime: time(set.atimeUs, set.atimeNow, 'atime'),
    mtime: time(set.mtimeUs, set.mtimeNow, 'mtime'),
  };
}
