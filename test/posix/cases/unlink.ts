/** unlink(2): link counts, open-but-unlinked files, directory and sticky rules. */
import type { PosixCase } from '../case-types.js';
import { A, B, R } from '../steps.js';
import { cases, giveTo, stickyCaseDir } from './define.js';

const c = cases('unlink');

export const UNLINK_CASES: PosixCase[] = [
  c('basic', 'unlink removes the name', [R.writeFile('f', 'x'), R.unlink('f'), R.stat('f', 'ENOENT')]),
  c('enoent', 'unlink of a missing name', [R.unlink('missing', 'ENOENT')]),
  c('directory', 'unlink of a directory is EISDIR on Linux (POSIX allows EPERM)', [R.mkdir('d', 0o755), R.unlink('d', 'EISDIR')]),
  c('enotdir', 'a regular file used as a directory, also with a trailing slash', [
    R.writeFile('f', 'x'),
    R.unlink('f/x', 'ENOTDIR'),
    R.unlink('f/', 'ENOTDIR'),
  ]),
  c('symlink-not-target', 'unlinking a symlink leaves its target', [R.writeFile('f', 'x'), R.symlink('f', 'l'), R.unlink('l', { observe: ['l', 'f', '.'] })]),
  c('nlink-decrements', 'each unlink of a hard link lowers the others\' nlink and changes their ctime', [
    R.writeFile('f', 'x'),
    R.link('f', 'g'),
    R.link('f', 'h'),
    R.unlink('g', { observe: ['f', 'g', 'h', '.'] }),
    R.unlink('f', { observe: ['f', 'h', '.'] }),
  ]),
  c('open-file-survives', 'an unlinked open file stays readable and writable through its descriptor, nlink 0', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'data'),
    A.open('f', 'O_RDWR'),
    A.unlink('f'),
    A.fstat(),
    A.write('more', { position: 4 }),
    A.read(16, { position: 0 }),
    A.fstat(),
    A.close(),
  ]),
  c('eacces-no-write', 'unlink needs write permission on the parent', [R.writeFile('f', 'x', { mode: 0o666 }), A.unlink('f', 'EACCES')]),
  c('eacces-no-search', 'unlink needs search permission on the parent', [
    R.mkdir('p', 0o755),
    R.writeFile('p/f', 'x'),
    ...giveTo('p', 'user-a', 0o600),
    A.unlink('p/f', 'EACCES'),
  ]),
  c('read-only-file-in-own-dir', "a file's own mode does not matter, only the directory's", [
    ...giveTo('.', 'user-a'),
    R.writeFile('f', 'x', { mode: 0o400 }),
    A.unlink('f'),
  ]),
  c('sticky-other-user', "in a sticky directory user-b cannot unlink user-a's file; user-a can", [
    ...stickyCaseDir(),
    A.writeFile('f', 'a', { mode: 0o666 }),
    B.unlink('f', 'EPERM'),
    A.unlink('f'),
  ]),
  c('sticky-dir-owner', "the sticky directory's owner may unlink anyone's file", [...stickyCaseDir('user-b'), A.writeFile('f', 'a'), B.unlink('f')]),
  c('sticky-root', 'root may unlink anything in a sticky directory', [...stickyCaseDir(), A.writeFile('f', 'a'), R.unlink('f')]),
];
