/** chmod(2): who may, which bits stick, and writes that clear setuid/setgid. */
import type { PosixCase } from '../case-types.js';
import { A, B, N, R } from '../steps.js';
import { cases, giveTo } from './define.js';

const c = cases('chmod');

export const CHMOD_CASES: PosixCase[] = [
  c('owner', 'the owner changes the mode; ctime changes, mtime does not', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'x'),
    A.chmod('f', 0o600),
    A.chmod('f', 0o000),
    A.chmod('.', 0o700),
  ]),
  c('non-owner', 'neither another user nor a group member may chmod', [
    R.writeFile('f', 'x'),
    R.chown('f', 'user-a', 'group-b'),
    R.chmod('f', 0o666),
    B.chmod('f', 0o600, 'EPERM'),
    N.chmod('f', 0o600, 'EPERM'),
  ]),
  c('root', 'root changes any mode, every bit', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), R.chmod('f', 0o7777), R.chmod('f', 0o0)]),
  c('enoent', 'chmod of a missing name', [R.chmod('missing', 0o644, 'ENOENT')]),
  c('no-search', 'chmod needs search permission on the way to the file', [
    R.mkdir('d', 0o755),
    R.writeFile('d/f', 'x'),
    ...giveTo('d/f', 'user-a'),
    R.chmod('d', 0o700),
    A.chmod('d/f', 0o600, 'EACCES'),
  ]),
  c('setgid-non-member', 'setting S_ISGID on a file whose group the owner is not in silently drops the bit', [
    R.writeFile('f', 'x'),
    R.chown('f', 'user-a', 'group-b'),
    A.chmod('f', 0o2755),
    A.stat('f'),
  ]),
  c('setgid-member', 'a member of the file group keeps S_ISGID (supplementary group)', [
    R.writeFile('f', 'x'),
    R.chown('f', 'user-a', 'group-extra'),
    A.chmod('f', 0o2755),
  ]),
  c('setuid-owner', 'the owner may set S_ISUID', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chmod('f', 0o4755)]),
  c('sticky-file', 'a non-root owner may set the sticky bit on a regular file on Linux', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chmod('f', 0o1644)]),
  c('sticky-and-setgid-dir', 'the owner sets sticky and setgid on a directory', [
    ...giveTo('.', 'user-a'),
    A.mkdir('d', 0o755),
    A.chmod('d', 0o1777),
    A.chmod('d', 0o2755),
  ]),
  c('write-clears-setid', "a non-root write clears S_ISUID and S_ISGID (group-executable files)", [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'x'),
    A.chmod('f', 0o6755),
    A.open('f', 'O_WRONLY'),
    A.write('y'),
    A.close(),
  ]),
  c('root-write-keeps-setid', 'a write by root (CAP_FSETID) keeps S_ISUID and S_ISGID', [
    R.writeFile('f', 'x'),
    R.chmod('f', 0o6755),
    R.open('f', 'O_WRONLY'),
    R.write('y'),
    R.close(),
  ]),
];
