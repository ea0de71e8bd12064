import type { Attr__Output } from '../proto/generated/dfs/Attr.js';
import type { FileKind__Output } from '../proto/generated/dfs/FileKind.js';
import { DfsError } from '../common/errors.js';

/** What an inode is. Only files have data; symlinks have a target; devices an rdev. */
export type FileKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char-device' | 'block-device';

/**
 * Who makes a request: the master checks it as Linux checks a process with
 * these ids (uid 0 is root) and makes it the owner of what it creates.
 */
export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups (at most LIMITS.callerGroupsMax). */
  groups: readonly number[];
}

/** A namespace entry's attributes as the client library presents them. */
export interface FileAttr {
  inode: number;
  kind: FileKind;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Files: bytes. Symlinks: the target's bytes. Others: 0. */
  size: number;
  /** Entries naming it (0 once unlinked); directories: 2 + subdirectories. */
  nlink: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Replicas per chunk, or every live chunkserver (files; 0 for anything else). */
  replication: number | 'all';
  chunkCount: number;
  /** Char and block devices: the device number. Others: 0. */
  rdev: number;
}

export interface DirEntry {
  name: string;
  attr: FileAttr;
}

const KINDS: Record<Exclude<FileKind__Output, 'FILE_KIND_UNSPECIFIED'>, FileKind> = {
  FILE_KIND_FILE: 'file',
  FILE_KIND_DIRECTORY: 'directory',
  FILE_KIND_SYMLINK: 'symlink',
  FILE_KIND_FIFO: 'fifo',
  FILE_KIND_SOCKET: 'socket',
  FILE_KIND_CHAR_DEVICE: 'char-device',
  FILE_KIND_BLOCK_DEVICE: 'block-device',
};

const WIRE_KINDS = Object.fromEntries(Object.entries(KINDS).map(([wire, kind]) => [kind, wire])) as Record<FileKind, FileKind__Output>;

export function toWireKind(kind: FileKind): FileKind__Output {
  const wire = WIRE_KINDS[kind];
  if (wire === undefined) throw new DfsError('INVALID_ARGUMENT', `kind must be one of ${Object.keys(WIRE_KINDS).join(', ')}, not ${String(kind)}`);
  return wire;
}

export function fromWireAttr(attr: Attr__Output | null): FileAttr {
  if (attr === null) throw new DfsError('INTERNAL', 'response carries no attributes');
  const kind = attr.kind === 'FILE_KIND_UNSPECIFIED' ? undefined : KINDS[attr.kind];
  if (kind === undefined) throw new DfsError('INTERNAL', `response carries an unknown kind ${String(attr.kind)}`);
  return {
    inode: Number(attr.inode),
    kind,
    mode: attr.mode,
    uid: attr.uid,
    gid: attr.gid,
    size: Number(attr.size),
    nlink: attr.nlink,
    atimeMs: Number(attr.atimeUs) / 1000,
    mtimeMs: Number(attr.mtimeUs) / 1000,
    ctimeMs: Number(attr.ctimeUs) / 1000,
    replication: attr.replicateAll ? 'all' : attr.replication,
    chunkCount: Number(attr.chunkCount),
    rdev: attr.rdev,
  };
}
