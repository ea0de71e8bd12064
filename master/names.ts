import { DfsError, errors } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { checkName, splitPath } from '../common/path.js';

/** The names the namespace stores, checked as requests give them. */

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * splitPath, and no lone UTF-16 surrogates: such a name cannot travel as a
 * protobuf string, so it could never be looked up again.
 */
export function parsePath(path: string): string[] {
  const parts = splitPath(path);
  if (LONE_SURROGATE.test(path)) throw errors.invalid('path is not valid Unicode');
  return parts;
}

/** One entry name as a request gives it: checkName, no '/', no lone surrogate. Throws DfsError. */
export function requireName(name: string): void {
  if (typeof name !== 'string') throw errors.invalid('name is not a string');
  checkName(name);
  if (name.includes('/')) throw errors.invalid(`name ${JSON.stringify(name)} contains '/'`);
  if (LONE_SURROGATE.test(name)) throw errors.invalid('name is not valid Unicode');
}

/** Whether `name` is a component parsePath accepts. */
export function isValidName(name: string): boolean {
  try {
    requireName(name);
  } catch (err) {
    if (err instanceof DfsError) return false;
    throw err;
  }
  return true;
}

/**
 * A symlink target as symlink(2) takes it: 1 to LIMITS.symlinkTargetMaxBytes
 * bytes (empty is NOT_FOUND, longer NAME_TOO_LONG, as Linux answers), no
 * NUL, and valid Unicode (the wire carries strings). Throws DfsError.
 */
export function requireSymlinkTarget(target: string): void {
  if (typeof target !== 'string') throw errors.invalid('symlink target is not a string');
  if (target.length === 0) throw errors.notFound('an empty symlink target');
  if (Buffer.byteLength(target, 'utf8') > LIMITS.symlinkTargetMaxBytes) {
    throw new DfsError('NAME_TOO_LONG', `symlink target is longer than ${LIMITS.symlinkTargetMaxBytes} bytes`);
  }
  if (target.includes('\0')) throw errors.invalid('symlink target contains a NUL byte');
  if (LONE_SURROGATE.test(target)) throw errors.invalid('symlink target is not valid Unicode');
}
