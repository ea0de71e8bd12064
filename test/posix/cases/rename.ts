/** rename(2): replacing files and directories, same-inode no-op, loops, permissions and sticky rules, open descriptors. */
import type { PosixCase } from '../case-types.js';
import { A, B, R } from '../steps.js';
import { NAME_TOO_LONG, cases, giveTo, stickyCaseDir } from './define.js';

const c = cases('rename');

export const RENAME_CASES: PosixCase[] = [
  c('file', "a file moves to a new name; its ctime changes (seen through a second link)", [
    R.writeFile('a', 'A'),
    R.link('a', 'keep'),
    R.rename('a', 'b', { observe: ['a', 'b', 'keep', '.'] }),
    R.readFile('b'),
  ]),
  c('over-file', 'a file replaces an existing file', [R.writeFile('a', 'A'), R.writeFile('b', 'B'), R.rename('a', 'b'), R.readFile('b')]),
  c('over-file-with-other-link', "the replaced file's other link survives with nlink 1", [
    R.writeFile('a', 'A'),
    R.writeFile('b', 'B'),
    R.link('b', 'c'),
    R.rename('a', 'b', { observe: ['a', 'b', 'c', '.'] }),
  ]),
  c('same-inode', 'renaming onto another link of the same file does nothing and succeeds', [
    R.writeFile('a', 'A'),
    R.link('a', 'b'),
    R.rename('a', 'b'),
  ]),
  c('to-other-dir', 'a file moves between directories; both parents change', [
    R.mkdir('p', 0o755),
    R.mkdir('q', 0o755),
    R.writeFile('p/f', 'x'),
    R.rename('p/f', 'q/f'),
  ]),
  c('dir', 'a directory moves with its content', [R.mkdir('d', 0o755), R.writeFile('d/f', 'x'), R.rename('d', 'e', { observe: ['d', 'e', 'e/f', '.'] })]),
  c('dir-between-parents', "moving a directory moves one nlink from the old parent to the new one", [
    R.mkdir('p', 0o755),
    R.mkdir('q', 0o755),
    R.mkdir('p/d', 0o755),
    R.rename('p/d', 'q/d'),
    R.stat('q/d/..'),
  ]),
  c('dir-over-empty-dir', 'a directory replaces an empty directory', [R.mkdir('a', 0o700), R.mkdir('b', 0o755), R.rename('a', 'b')]),
  c('dir-over-nonempty-dir', 'a directory cannot replace a non-empty one', [
    R.mkdir('a', 0o755),
    R.mkdir('b', 0o755),
    R.writeFile('b/f', 'x'),
    R.rename('a', 'b', 'ENOTEMPTY'),
  ]),
  c('file-over-dir', 'a file cannot replace a directory', [R.writeFile('f', 'x'), R.mkdir('d', 0o755), R.rename('f', 'd', 'EISDIR')]),
  c('dir-over-file', 'a directory cannot replace a file', [R.writeFile('f', 'x'), R.mkdir('d', 0o755), R.rename('d', 'f', 'ENOTDIR')]),
  c('dir-into-own-subdir', 'a directory cannot move under itself', [
    R.mkdir('a', 0o755),
    R.mkdir('a/b', 0o755),
    R.rename('a', 'a/b/c', 'EINVAL'),
    R.rename('a', 'a/c', 'EINVAL'),
  ]),
  c('enoent', 'a missing source, and a missing target directory', [
    R.rename('missing', 'b', 'ENOENT'),
    R.writeFile('a', 'x'),
    R.rename('a', 'nodir/b', 'ENOENT'),
  ]),
  c('dot', 'renaming "." is EBUSY on Linux', [R.mkdir('d', 0o755), R.rename('d/.', 'e', 'EBUSY')]),
  c('trailing-slash-on-file', 'a trailing slash on a file target', [R.writeFile('f', 'x'), R.rename('f', 'g/', 'ENOTDIR')]),
  c('name-too-long', 'a 256-byte target name', [R.writeFile('f', 'x'), R.rename('f', NAME_TOO_LONG, 'ENAMETOOLONG')]),
  c('symlink', 'rename moves the symlink, not its target', [
    R.writeFile('f', 'x'),
    R.symlink('f', 'l'),
    R.rename('l', 'm'),
    R.readlink('m'),
  ]),
  c('over-symlink', 'a file replaces a symlink; the symlink target is untouched', [
    R.writeFile('a', 'A'),
    R.writeFile('t', 'T'),
    R.symlink('t', 'l'),
    R.rename('a', 'l', { observe: ['a', 'l', 't', '.'] }),
  ]),
  c('no-write-on-source-dir', 'rename needs write permission on the source directory', [
    R.mkdir('src', 0o755),
    R.writeFile('src/f', 'x'),
    R.mkdir('dst', 0o755),
    ...giveTo('dst', 'user-a'),
    A.rename('src/f', 'dst/f', 'EACCES'),
  ]),
  c('no-write-on-target-dir', 'rename needs write permission on the target directory', [
    R.mkdir('src', 0o755),
    ...giveTo('src', 'user-a'),
    A.writeFile('src/f', 'x'),
    R.mkdir('dst', 0o755),
    A.rename('src/f', 'dst/f', 'EACCES'),
  ]),
  c('dir-move-needs-write-on-itself', "moving a directory to another parent rewrites its '..': that needs write permission on the directory itself", [
    ...giveTo('.', 'user-b'),
    B.mkdir('p1', 0o755),
    B.mkdir('p2', 0o755),
    R.mkdir('p1/d', 0o755),
    ...giveTo('p1/d', 'user-a'),
    B.rename('p1/d', 'p2/d', 'EACCES'),
    B.rename('p1/d', 'p1/e'),
  ]),
  c('sticky-source', "in a sticky directory user-b cannot rename user-a's file", [
    ...stickyCaseDir(),
    A.writeFile('f', 'a', { mode: 0o666 }),
    B.rename('f', 'g', 'EPERM'),
    A.rename('f', 'g'),
  ]),
  c('sticky-target', "in a sticky directory nobody but the owners may replace user-a's file", [
    ...stickyCaseDir(),
    A.writeFile('a', 'A', { mode: 0o666 }),
    B.writeFile('b', 'B'),
    B.rename('b', 'a', 'EPERM'),
    A.rename('a', 'b', 'EPERM'),
    R.rename('b', 'a'),
  ]),
  c('open-descriptor-follows', 'a descriptor opened before a rename writes to the renamed file', [
    ...giveTo('.', 'user-a'),
    A.writeFile('a', '1'),
    A.open('a', 'O_WRONLY|O_APPEND'),
    A.rename('a', 'b'),
    A.write('2', { observe: ['a', 'b'] }),
    A.close({ observe: ['b'] }),
    A.readFile('b'),
  ]),
  c('replaced-file-still-open', 'a descriptor on a replaced file still reads the old content', [
    R.writeFile('a', 'new'),
    R.writeFile('b', 'old'),
    R.open('b', 'O_RDONLY'),
    R.rename('a', 'b'),
    R.read(16),
    R.fstat(),
    R.close(),
    R.readFile('b'),
  ]),
];
