/**
 * utimensat(2): explicit times need ownership, "now" needs ownership or
 * write permission; explicit values are kept to the microsecond (Node passes
 * microseconds), and the ctime always changes.
 */
import type { PosixCase } from '../case-types.js';
import { A, B, N, R } from '../steps.js';
import { cases, giveTo } from './define.js';

const c = cases('utimens');

const PAST = { atimeSec: 1_000_000_000.25, mtimeSec: 1_200_000_000.5 };
/** Year 2096: leaves the mtime after the ctime. */
const FUTURE = { atimeSec: 4_000_000_000, mtimeSec: 4_000_000_000.75 };

export const UTIMENS_CASES: PosixCase[] = [
  c('owner-explicit', 'the owner sets explicit times, kept exactly; ctime changes', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.utimes('f', PAST)]),
  c('future', 'explicit times in the future: mtime after ctime', [R.writeFile('f', 'x'), R.utimes('f', FUTURE)]),
  c('root-explicit', 'root sets explicit times on any file', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), R.utimes('f', PAST)]),
  c('non-owner-explicit', 'explicit times by a non-owner are refused even with write permission', [
    R.writeFile('f', 'x', { mode: 0o666 }),
    R.chmod('f', 0o666),
    A.utimes('f', PAST, 'EPERM'),
    B.utimes('f', PAST, 'EPERM'),
  ]),
  c('non-owner-now-with-write', 'a non-owner with write permission may set the times to now', [
    R.writeFile('f', 'x', { mode: 0o666 }),
    R.chmod('f', 0o666),
    A.utimes('f', 'now'),
    N.utimes('f', 'now'),
  ]),
  c('non-owner-now-without-write', 'without write permission a non-owner may not even set now', [R.writeFile('f', 'x'), A.utimes('f', 'now', 'EACCES')]),
  c('owner-now-without-write', 'the owner may set now without write permission', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chmod('f', 0o444), A.utimes('f', 'now')]),
  c('directory', 'explicit times on a directory', [R.mkdir('d', 0o755), R.utimes('d', PAST)]),
  c('follows-symlink', 'utimes through a symlink sets the target', [R.writeFile('f', 'x'), R.symlink('f', 'l'), R.utimes('l', PAST, { observe: ['f'] })]),
  c('lutimes', 'lutimes sets the symlink itself', [R.writeFile('f', 'x'), R.symlink('f', 'l'), R.lutimes('l', PAST, { observe: ['l', 'f'] })]),
  c('enoent', 'utimes of a missing name', [R.utimes('missing', PAST, 'ENOENT'), R.utimes('missing', 'now', 'ENOENT')]),
  c('then-write', 'a write after explicit times moves mtime again', [
    R.writeFile('f', 'x'),
    R.utimes('f', PAST),
    R.open('f', 'O_WRONLY|O_APPEND'),
    R.write('y'),
    R.close(),
  ]),
];
