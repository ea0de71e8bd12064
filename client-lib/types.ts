import type { Attr__Output } from '../proto/generated/dfs/Attr.js';

/** A namespace entry's attributes as the client library presents them. */
export interface FileAttr {
  inode: number;
  kind: 'file' | 'directory';
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Replicas per chunk, or every live chunkserver. */
  replication: number | 'all';
  chunkCount: number;
}

export interface DirEntry {
  name: string;
  attr: FileAttr;
}

export function fromWireAttr(attr: Attr__Output | null): FileAttr {
  if (attr === null) throw new Error('response carries no attributes');
  return {
    inode: Number(attr.inode),
    kind: attr.kind === 'FILE_KIND_DIRECTORY' ? 'directory' : 'file',
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
  };
}
