/** link(2) and symlink(2)/readlink(2): link counts, shared content, following rules, protected links. */
import type { PosixCase } from '../case-types.js';
import { A, B, R } from '../steps.js';
import { NAME_TOO_LONG, cases, giveTo, stickyCaseDir } from './define.js';

const hard = cases('link');
const soft = cases('symlink');

export const LINK_CASES: PosixCase[] = [
  hard('basic', "a hard link: nlink 2 on both names, the file's ctime changes, content is shared", [
    R.writeFile('f', 'one'),
    R.link('f', 'g'),
    R.open('g', 'O_WRONLY|O_APPEND'),
    R.write('+two', { observe: ['f', 'g'] }),
    R.close(),
    R.readFile('f'),
  ]),
  hard('unlink-one-name', 'removing one name keeps the other with nlink 1', [R.writeFile('f', 'x'), R.link('f', 'g'), R.unlink('f', { observe: ['f', 'g', '.'] })]),
  hard('eexist', 'link onto an existing name', [R.writeFile('f', 'x'), R.writeFile('g', 'y'), R.link('f', 'g', 'EEXIST')]),
  hard('directory', 'hard links to directories are refused', [R.mkdir('d', 0o755), R.link('d', 'e', 'EPERM')]),
  hard('enoent', 'a missing source, and a missing target directory', [
    R.link('missing', 'g', 'ENOENT'),
    R.writeFile('f', 'x'),
    R.link('f', 'nodir/g', 'ENOENT'),
  ]),
  hard('no-write-on-target-dir', 'link needs write permission on the target directory', [
    R.writeFile('f', 'x'),
    ...giveTo('f', 'user-a'),
    A.link('f', 'g', 'EACCES'),
  ]),
  hard('protected-hardlinks', "with fs.protected_hardlinks a user cannot link a file they could not write", [
    ...giveTo('.', 'user-a'),
    R.writeFile('f', 'root'),
    A.link('f', 'g', { sysctl: 'fs.protected_hardlinks', on: 'EPERM', off: 'ok' }),
    R.writeFile('w', 'anyone', { mode: 0o666 }),
    R.chmod('w', 0o666),
    A.link('w', 'v'),
  ]),
  hard('symlink-not-followed', 'link() links the symlink itself, not its target', [
    R.writeFile('f', 'x'),
    R.symlink('f', 'l'),
    R.link('l', 'h', { observe: ['f', 'l', 'h', '.'] }),
    R.symlink('nowhere', 'd'),
    R.link('d', 'e'),
  ]),
  hard('name-too-long', 'a 256-byte link name', [R.writeFile('f', 'x'), R.link('f', NAME_TOO_LONG, 'ENAMETOOLONG')]),
];

export const SYMLINK_CASES: PosixCase[] = [
  soft('basic', 'a symlink: mode 0777, size = target length, readlink returns the target verbatim', [
    R.symlink('some/where/../x', 'l'),
    R.readlink('l'),
    R.lstat('l'),
  ]),
  soft('owner-is-creator', "a symlink belongs to its creator", [...giveTo('.', 'user-a'), A.symlink('t', 'l')]),
  soft('eexist', 'symlink onto an existing name', [R.writeFile('f', 'x'), R.symlink('t', 'f', 'EEXIST')]),
  soft('dangling', 'a dangling symlink: stat fails, lstat works', [R.symlink('nowhere', 'l'), R.stat('l', 'ENOENT'), R.lstat('l')]),
  soft('loop', 'a symlink loop', [R.symlink('b', 'a'), R.symlink('a', 'b'), R.stat('a', 'ELOOP'), R.lstat('a')]),
  soft('readlink-not-symlink', 'readlink of a file and a directory', [
    R.writeFile('f', 'x'),
    R.readlink('f', 'EINVAL'),
    R.mkdir('d', 0o755),
    R.readlink('d', 'EINVAL'),
  ]),
  soft('empty-target', 'an empty target is refused', [R.symlink('', 'l', 'ENOENT')]),
  soft('target-length', 'a 1000-byte target is kept; a target of PATH_MAX bytes is ENAMETOOLONG', [
    R.symlink('t'.repeat(1000), 'l'),
    R.readlink('l'),
    R.symlink('t'.repeat(4096), 'm', 'ENAMETOOLONG'),
  ]),
  soft('no-write', 'symlink needs write permission on the directory', [A.symlink('t', 'l', 'EACCES')]),
  soft('write-through', 'writing through a symlink writes its target', [
    R.writeFile('f', 'old'),
    R.symlink('f', 'l'),
    R.writeFile('l', 'new', { observe: ['f', 'l'] }),
    R.readFile('f'),
  ]),
  soft('relative-to-link-dir', "a relative target resolves from the symlink's directory", [
    R.mkdir('d', 0o755),
    R.writeFile('d/f', 'inside'),
    R.symlink('f', 'd/l'),
    R.readFile('d/l'),
    R.symlink('d/f', 'top'),
    R.readFile('top'),
  ]),
  soft('outside-target', 'a symlink may point outside the file system', [R.symlink('/dev/null', 'l'), R.stat('l'), R.readlink('l')]),
  soft('chmod-follows', 'chmod through a symlink changes the target; the link stays 0777', [
    R.writeFile('f', 'x'),
    R.symlink('f', 'l'),
    R.chmod('l', 0o600, { observe: ['f', 'l'] }),
  ]),
  soft('trailing-slash-follows', 'a trailing slash makes lstat follow a symlink to a directory', [
    R.mkdir('d', 0o755),
    R.symlink('d', 'l'),
    R.lstat('l/'),
    R.lstat('l'),
  ]),
  soft('protected-symlinks', 'with fs.protected_symlinks a user cannot follow another user\'s symlink in a sticky world-writable directory', [
    ...stickyCaseDir(),
    R.writeFile('t', 'target'),
    A.symlink('t', 'l'),
    B.readFile('l', { sysctl: 'fs.protected_symlinks', on: 'EACCES', off: 'ok' }),
    A.readFile('l'),
  ]),
  soft('name-too-long', 'a 256-byte symlink name', [R.symlink('t', NAME_TOO_LONG, 'ENAMETOOLONG')]),
];
