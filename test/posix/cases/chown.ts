/** chown(2)/lchown(2): who may change owner and group, and the setid bits a chown clears. */
import type { PosixCase } from '../case-types.js';
import { A, B, N, R } from '../steps.js';
import { cases, giveTo } from './define.js';

const c = cases('chown');

export const CHOWN_CASES: PosixCase[] = [
  c('root', 'root changes owner and group; ctime changes', [R.writeFile('f', 'x'), R.chown('f', 'user-a', 'group-b'), R.chown('f', null, 'nogroup')]),
  c('non-root-owner', 'a non-root owner cannot give a file away', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chown('f', 'user-b', null, 'EPERM')]),
  c('owner-to-self', 'chown to one\'s own uid is allowed', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chown('f', 'user-a', null)]),
  c('chgrp-member', 'the owner may chgrp to a supplementary group', [...giveTo('.', 'user-a'), A.writeFile('f', 'x'), A.chown('f', null, 'group-extra')]),
  c('chgrp-non-member', 'the owner may not chgrp to a group they are not in', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'x'),
    A.chown('f', null, 'group-b', 'EPERM'),
  ]),
  c('chgrp-non-owner', 'a group member who is not the owner may not chgrp', [
    R.writeFile('f', 'x'),
    R.chown('f', 'user-a', 'group-b'),
    B.chown('f', null, 'group-b', 'EPERM'),
    N.chown('f', 'nobody', null, 'EPERM'),
  ]),
  c('no-change-by-non-owner', 'chown(-1, -1) by a non-owner', [R.writeFile('f', 'x'), A.chown('f', null, null)]),
  c('clears-setid-even-for-root', "chown of a regular file clears S_ISUID and S_ISGID, even when root does it", [
    R.writeFile('f', 'x'),
    R.chmod('f', 0o6755),
    R.chown('f', 'user-a', null),
  ]),
  c('keeps-setgid-without-group-exec', 'S_ISGID without group execute (mandatory-locking mark) survives a chown', [
    R.writeFile('f', 'x'),
    R.chmod('f', 0o2744),
    R.chown('f', 'user-a', null),
  ]),
  c('chgrp-by-owner-clears-setid', 'an owner chgrp clears S_ISUID and S_ISGID', [
    ...giveTo('.', 'user-a'),
    A.writeFile('f', 'x'),
    A.chmod('f', 0o6755),
    A.chown('f', null, 'group-extra'),
  ]),
  c('directory-keeps-setgid', 'chown of a directory keeps its setgid bit', [R.mkdir('d', 0o755), R.chmod('d', 0o2755), R.chown('d', 'user-a', 'group-a')]),
  c('lchown', 'lchown changes the symlink, not its target', [R.writeFile('f', 'x'), R.symlink('f', 'l'), R.lchown('l', 'user-a', 'group-a', { observe: ['f', 'l'] })]),
  c('follows-symlink', 'chown through a symlink changes the target', [R.writeFile('f', 'x'), R.symlink('f', 'l'), R.chown('l', 'user-b', 'group-b', { observe: ['f', 'l'] })]),
  c('enoent', 'chown of a missing name', [R.chown('missing', 'user-a', null, 'ENOENT')]),
];
