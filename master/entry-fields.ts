import { errors } from '../common/errors.js';

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
