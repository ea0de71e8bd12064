import { constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import type { FileAttr, FileKind } from '../client-lib/types.js';
import type { InodeAttr } from './file-system.js';
import { FuseError } from './file-system.js';

const { S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO } = fsConstants;

const TYPE_BITS: Record<FileKind, number> = {
  file: S_IFREG,
  directory: S_IFDIR,
  symlink: S_IFLNK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
  'char-device': S_IFCHR,
  'block-device': S_IFBLK,
};

/** The kind a mode's type bits name. */
export function kindOfMode(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case 0:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
      return 'char-device';
    case S_IFBLK:
      return 'block-device';
    default:
      throw new FuseError(constants.errno.EINVAL, `unknown file type in mode ${mode.toString(8)}`);
  }
}

export function typeBits(kind: FileKind): number {
  return TYPE_BITS[kind];
}

/**
 * What the kernel is told about an inode. st_blksize is the size `cp` and
 * friends use for their buffers: a whole data packet keeps their writes large.
 */
export function toInodeAttr(attr: FileAttr, blksize: number): InodeAttr {
  return {
    ino: attr.inode,
    size: attr.size,
    blocks: Math.ceil(attr.size / 512),
    atimeMs: attr.atimeMs,
    mtimeMs: attr.mtimeMs,
    ctimeMs: attr.ctimeMs,
    mode: TYPE_BITS[attr.kind] | (attr.mode & 0o7777),
    nlink: attr.nlink,
    uid: attr.uid,
    gid: attr.gid,
    rdev: attr.rdev,
    blksize,
  };
}
