/** mkdir(2) and rmdir(2): modes, link counts of parents, errors, sticky directories. */
import type { PosixCase } from '../case-types.js';
import { A, B, R } from '../steps.js';
import { NAME_MAX_LONG, NAME_TOO_LONG, cases, giveTo, stickyCaseDir } from './define.js';

const mk = cases('mkdir');
const rm = cases('rmdir');

export const MKDIR_CASES: PosixCase[] = [
  mk('basic', "a new directory: mode under umask, nlink 2, the parent's nlink and times change", [R.mkdir('d', 0o777), R.stat('d')]),
  mk('owner-is-creator', "a new directory belongs to the creator's uid and primary gid", [...giveTo('.', 'user-a'), A.mkdir('d', 0o750)]),
  mk('subdirs-count-in-nlink', "each subdirectory adds one to the parent's nlink", [
    R.mkdir('p', 0o755),
    R.mkdir('p/1', 0o755),
    R.mkdir('p/2', 0o755),
    R.writeFile('p/file', 'files do not count'),
    R.mkdir('p/3', 0o755),
    R.rmdir('p/2'),
  ]),
  mk('eexist-file', 'mkdir over a regular file', [R.writeFile('f', 'x'), R.mkdir('f', 0o755, 'EEXIST')]),
  mk('eexist-dir', 'mkdir over a directory, and of "."', [R.mkdir('d', 0o755), R.mkdir('d', 0o755, 'EEXIST'), R.mkdir('.', 0o755, 'EEXIST')]),
  mk('eexist-dangling-symlink', 'mkdir does not follow a dangling symlink', [R.symlink('nowhere', 'l'), R.mkdir('l', 0o755, 'EEXIST'), R.lstat('nowhere', 'ENOENT')]),
  mk('enoent-parent', 'mkdir in a missing directory', [R.mkdir('a/b', 0o755, 'ENOENT')]),
  mk('enotdir-parent', 'mkdir under a regular file', [R.writeFile('f', 'x'), R.mkdir('f/d', 0o755, 'ENOTDIR')]),
  mk('eacces-no-write', 'mkdir needs write permission on the parent', [A.mkdir('d', 0o755, 'EACCES')]),
  mk('eacces-no-search', 'mkdir needs search permission on the parent', [
    R.mkdir('p', 0o755),
    ...giveTo('p', 'user-a', 0o600),
    A.mkdir('p/d', 0o755, 'EACCES'),
  ]),
  mk('sticky-bit-kept', 'mkdir keeps S_ISVTX from the mode', [R.mkdir('d', 0o1777)]),
  mk('setgid-bit-ignored', "mkdir drops S_ISGID from the mode unless the parent is setgid", [R.mkdir('d', 0o2755), R.mkdir('e', 0o4755)]),
  mk('name-length', 'a 255-byte name is accepted, a 256-byte one is ENAMETOOLONG', [
    R.mkdir(NAME_MAX_LONG, 0o755),
    R.mkdir(NAME_TOO_LONG, 0o755, 'ENAMETOOLONG'),
  ]),
  mk('trailing-slash', 'mkdir accepts a trailing slash', [R.mkdir('d/', 0o755), R.stat('d')]),
];

export const RMDIR_CASES: PosixCase[] = [
  rm('basic', "rmdir removes an empty directory; the parent's nlink drops", [R.mkdir('d', 0o755), R.rmdir('d'), R.stat('d', 'ENOENT')]),
  rm('enotempty-file', 'a directory holding a file', [R.mkdir('d', 0o755), R.writeFile('d/f', 'x'), R.rmdir('d', 'ENOTEMPTY')]),
  rm('enotempty-subdir', 'a directory holding a directory', [R.mkdir('d', 0o755), R.mkdir('d/e', 0o755), R.rmdir('d', 'ENOTEMPTY')]),
  rm('enotdir', 'rmdir of a regular file', [R.writeFile('f', 'x'), R.rmdir('f', 'ENOTDIR')]),
  rm('enoent', 'rmdir of a missing name', [R.rmdir('missing', 'ENOENT')]),
  rm('dot', 'rmdir of "d/." is EINVAL', [R.mkdir('d', 0o755), R.rmdir('d/.', 'EINVAL')]),
  rm('dotdot', 'rmdir of "d/.." is ENOTEMPTY on Linux', [R.mkdir('d', 0o755), R.rmdir('d/..', 'ENOTEMPTY')]),
  rm('symlink-to-dir', 'rmdir does not follow a symlink', [R.mkdir('d', 0o755), R.symlink('d', 'l'), R.rmdir('l', 'ENOTDIR')]),
  rm('trailing-slash', 'rmdir accepts a trailing slash', [R.mkdir('d', 0o755), R.rmdir('d/')]),
  rm('eacces-no-write', 'rmdir needs write permission on the parent', [R.mkdir('d', 0o777), A.rmdir('d', 'EACCES')]),
  rm('sticky-other-user', "in a sticky directory user-b cannot remove user-a's directory; user-a can", [
    ...stickyCaseDir(),
    A.mkdir('d', 0o777),
    B.rmdir('d', 'EPERM'),
    A.rmdir('d'),
  ]),
  rm('sticky-dir-owner', "the sticky directory's owner may remove anyone's entries", [...stickyCaseDir('user-b'), A.mkdir('d', 0o755), B.rmdir('d')]),
];
