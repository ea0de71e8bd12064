/** Creation: the new inode's mode, owner and group (umask, setgid directories), and mkfifo. */
import type { PosixCase } from '../case-types.js';
import { A, B, N, R } from '../steps.js';
import { cases, giveTo, stickyCaseDir } from './define.js';

const c = cases('create');

export const CREATE_CASES: PosixCase[] = [
  c('mode-masked-by-umask', 'the requested mode is masked by the umask (022)', [
    ...giveTo('.', 'user-a'),
    A.open('f', 'O_CREAT|O_WRONLY', { mode: 0o777 }),
    A.close(),
    A.open('g', 'O_CREAT|O_WRONLY', { fd: 'g', mode: 0o600 }),
    A.close({ fd: 'g' }),
  ]),
  c('owner-is-creator', "a new file belongs to the creator's uid and primary gid", [
    R.chmod('.', 0o777),
    A.writeFile('a', 'by a'),
    B.writeFile('b', 'by b'),
    N.writeFile('n', 'by nobody'),
  ]),
  c('existing-mode-unchanged', 'O_CREAT on an existing file ignores the mode argument', [
    R.writeFile('f', 'x', { mode: 0o600 }),
    R.open('f', 'O_CREAT|O_WRONLY', { mode: 0o777 }),
    R.close(),
  ]),
  c('setgid-dir-inherits-group', "in a setgid directory new entries get the directory's group and new subdirectories keep setgid", [
    R.chown('.', 'user-a', 'group-extra'),
    R.chmod('.', 0o2775),
    A.writeFile('f', 'x'),
    A.mkdir('sub', 0o755),
    A.writeFile('sub/g', 'y'),
    A.mkfifo('p', 0o644),
    B.writeFile('h', 'no', 'EACCES'),
  ]),
  c('setgid-dir-nonmember', 'a non-member creating in a setgid directory: group inherited, setgid stripped from a new file', [
    R.chown('.', 'root', 'group-extra'),
    R.chmod('.', 0o2777),
    B.open('f', 'O_CREAT|O_WRONLY', { mode: 0o2755 }),
    B.close(),
    B.mkdir('sub', 0o755),
  ]),
  c('setgid-mode-by-member', 'a member may create a file with the setgid bit', [
    ...giveTo('.', 'user-a'),
    A.open('f', 'O_CREAT|O_WRONLY', { mode: 0o2755 }),
    A.close(),
  ]),
  c('sticky-dir-anyone-creates', 'everyone may create in a sticky world-writable directory', [
    ...stickyCaseDir(),
    A.writeFile('a', 'x'),
    B.writeFile('b', 'y'),
    N.mkdir('n', 0o700),
  ]),
  c('in-regular-file', 'creating under a regular file', [
    R.writeFile('f', 'x'),
    R.open('f/g', 'O_CREAT|O_WRONLY', { mode: 0o644, expect: 'ENOTDIR' }),
  ]),
  c('trailing-slash', 'O_CREAT of a name with a trailing slash', [R.open('new/', 'O_CREAT|O_WRONLY', { mode: 0o644, expect: 'EISDIR' })]),
  c('mkfifo', 'mkfifo: type, mode under umask, owner; a second one is EEXIST', [
    ...giveTo('.', 'user-a'),
    A.mkfifo('p', 0o666),
    A.mkfifo('p', 0o666, 'EEXIST'),
    A.stat('p'),
  ]),
  c('mkfifo-denied', 'mkfifo needs write permission on the directory', [A.mkfifo('p', 0o644, 'EACCES')]),
  c('mkfifo-enoent', 'mkfifo in a missing directory', [R.mkfifo('nodir/p', 0o644, 'ENOENT')]),
];
