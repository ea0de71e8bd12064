import { DfsError } from './errors.js';
import { parseWireInteger } from './ids.js';

/**
 * Checks on fields that any peer sends: a bad value is INVALID_ARGUMENT,
 * answered before it touches any state.
 */

/** A 64-bit field that must fit in a safe integer. */
export function requireInteger(value: string | number | undefined, field: string): number {
  const n = parseWireInteger(value);
  if (n === undefined) throw new DfsError('INVALID_ARGUMENT', `${field} is out of range: ${String(value)}`);
  return n;
}

export function requireAddress(address: string, field: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  if (match === null || Number(match[2]) === 0 || Number(match[2]) > 65535) {
    throw new DfsError('INVALID_ARGUMENT', `${field} must be host:port, got ${JSON.stringify(address)}`);
  }
  return address;
}

export function requireId(value: string, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw new DfsError('INVALID_ARGUMENT', `${field} must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  return value;
}

export function requireLabel(value: string, field: string): string {
  if (typeof value !== 'string' || value.length > 64 || /[\u0000-\u001f]/.test(value)) {
    throw new DfsError('INVALID_ARGUMENT', `${field} must be at most 64 printable characters`);
  }
  return value;
}
