/**
 * System calls Node does not expose, made by a short perl child (perl-base is
 * part of every Debian system) that exits with the errno:
 *
 * - truncate(2) on a path: Node's fs.truncate opens the file read-write and
 *   ftruncates, which needs read permission and fails differently;
 * - utimes(path, NULL), "set both times to now": Node always passes explicit
 *   times, and only NULL times are allowed to a non-owner with write access;
 * - mkfifo(3).
 *
 * The child inherits the worker's identity, so permission checks are the
 * worker's user's.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { assert } from '../../common/assert.js';

const SCRIPTS = {
  truncate: 'truncate($ARGV[0], $ARGV[1]) or exit($! + 0); exit 0',
  utimeNow: 'utime(undef, undef, $ARGV[0]) or exit($! + 0); exit 0',
  mkfifo: 'use POSIX (); POSIX::mkfifo($ARGV[0], oct($ARGV[1])) or exit($! + 0); exit 0',
} as const;

/** errno number -> code; the first name wins where Linux has aliases (EAGAIN/EWOULDBLOCK). */
const ERRNO_CODES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) if (!ERRNO_CODES.has(value)) ERRNO_CODES.set(value, name);

/** Runs one script; returns 'ok' or the errno code. */
function perl(script: keyof typeof SCRIPTS, args: string[]): string {
  const result = spawnSync('perl', ['-e', SCRIPTS[script], ...args], { cwd: '/', encoding: 'utf8' });
  if (result.error) throw new Error(`perl ${script}: ${result.error.message}`, { cause: result.error });
  assert(result.status !== null, `perl ${script} killed by ${result.signal}`);
  if (result.status === 0) return 'ok';
  const code = ERRNO_CODES.get(result.status);
  assert(code !== undefined && result.stderr === '', `perl ${script} failed: exit ${result.status} ${result.stderr}`);
  return code;
}

export function truncatePath(path: string, length: number): string {
  return perl('truncate', [path, String(length)]);
}

export function utimesNow(path: string): string {
  return perl('utimeNow', [path]);
}

export function mkfifo(path: string, mode: number): string {
  return perl('mkfifo', [path, `0${mode.toString(8)}`]);
}
