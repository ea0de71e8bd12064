import { DfsError } from './errors.js';
import { LIMITS } from './limits.js';

/**
 * Splits an absolute path into its components, or throws INVALID_ARGUMENT /
 * NAME_TOO_LONG. The wire takes only canonical paths: "/" or "/a/b", with no
 * empty, "." or ".." components, no NUL and no trailing slash. Callers that
 * take paths from people (the CLI) normalise them first.
 */
export function splitPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new DfsError('INVALID_ARGUMENT', 'path is empty');
  if (path[0] !== '/') throw new DfsError('INVALID_ARGUMENT', `path is not absolute: ${JSON.stringify(path)}`);
  if (Buffer.byteLength(path, 'utf8') > LIMITS.pathMaxBytes) {
    throw new DfsError('NAME_TOO_LONG', `path is longer than ${LIMITS.pathMaxBytes} bytes`);
  }
  if (path === '/') return [];
  const parts = path.slice(1).split('/');
  for (const part of parts) checkName(part);
  return parts;
}

/** Validates one path component. */
export function checkName(name: string): void {
  if (name.length === 0) throw new DfsError('INVALID_ARGUMENT', 'path has an empty component');
  if (name === '.' || name === '..') throw new DfsError('INVALID_ARGUMENT', `path component ${JSON.stringify(name)} is not allowed`);
  if (name.includes('\0')) throw new DfsError('INVALID_ARGUMENT', 'path contains a NUL byte');
  if (Buffer.byteLength(name, 'utf8') > LIMITS.nameMaxBytes) {
    throw new DfsError('NAME_TOO_LONG', `path component is longer than ${LIMITS.nameMaxBytes} bytes`);
  }
}

export function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

/**
 * Turns what a person typed into a canonical path: collapses repeated and
 * trailing slashes and resolves "." and "..". Relative paths are taken from "/".
 */
export function normalizeUserPath(input: string): string {
  const out: string[] = [];
  for (const part of input.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return joinPath(out);
}
