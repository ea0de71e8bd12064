/** truncate(2)/ftruncate(2): sizes, zero fill, permission at the path and at the descriptor. */
import type { PosixCase } from '../case-types.js';
import { A, R } from '../steps.js';
import { cases, giveTo } from './define.js';

const c = cases('truncate');

export const TRUNCATE_CASES: PosixCase[] = [
  c('shrink', 'truncate shortens a file; mtime and ctime change', [R.writeFile('f', 'hello world'), R.truncate('f', 5), R.readFile('f')]),
  c('extend', 'truncate extends with zeros', [R.writeFile('f', 'hello'), R.truncate('f', 20), R.readFile('f')]),
  c('same-size', 'truncate to the current size', [R.writeFile('f', 'hello'), R.truncate('f', 5)]),
  c('to-zero', 'truncate to zero', [R.writeFile('f', 'hello'), R.truncate('f', 0)]),
  c('no-write', 'truncate needs write permission on the file', [R.writeFile('f', 'hello'), A.truncate('f', 1, 'EACCES')]),
  c('non-owner-with-write', 'a non-owner with write permission may truncate', [
    R.writeFile('f', 'hello', { mode: 0o666 }),
    R.chmod('f', 0o666),
    A.truncate('f', 2),
  ]),
  c('write-only-file', 'truncate needs no read permission', [R.writeFile('f', 'hello'), ...giveTo('f', 'user-a', 0o200), A.truncate('f', 1)]),
  c('directory', 'truncate of a directory', [R.mkdir('d', 0o755), R.truncate('d', 0, 'EISDIR')]),
  c('enoent', 'truncate of a missing name', [R.truncate('missing', 0, 'ENOENT')]),
  c('negative', 'a negative length', [R.writeFile('f', 'hello'), R.truncate('f', -1, 'EINVAL')]),
  c('follows-symlink', 'truncate through a symlink truncates the target', [
    R.writeFile('f', 'hello'),
    R.symlink('f', 'l'),
    R.truncate('l', 1, { observe: ['f', 'l'] }),
  ]),
  c('ftruncate-read-only-descriptor', 'ftruncate needs a descriptor open for writing', [
    R.writeFile('f', 'hello'),
    R.open('f', 'O_RDONLY'),
    R.ftruncate(1, 'EINVAL'),
    R.close(),
  ]),
  c('ftruncate-checks-at-open', 'ftruncate through a writable descriptor works after the file became read-only', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'hello'),
    A.open('f', 'O_WRONLY'),
    A.chmod('f', 0o444),
    A.ftruncate(2),
    A.close(),
    A.truncate('f', 1, 'EACCES'),
  ]),
  c('ftruncate-then-write', 'extend with ftruncate, then write beyond the end', [
    R.open('f', 'O_CREAT|O_RDWR', { mode: 0o644 }),
    R.write('abc'),
    R.ftruncate(10),
    R.write('z', { position: 15 }),
    R.read(32, { position: 0 }),
    R.fstat(),
    R.close(),
  ]),
  c('clears-setid', 'a truncate by a non-root owner clears S_ISUID and S_ISGID', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'hello'),
    A.chmod('f', 0o6755),
    A.truncate('f', 1),
  ]),
];
