import type { Attr } from '../proto/generated/dfs/Attr.js';
import type { ChunkHandle, ChunkVersion, InodeId } from '../common/ids.js';

export type InodeKind = 'file' | 'directory';

/** The attributes of one inode, as the state machine answers them. */
export interface AttrView {
  readonly inode: InodeId;
  readonly kind: InodeKind;
  /** Permission bits only (0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Files: bytes. Directories: 0. */
  readonly size: number;
  /** Files: 1. Directories: 2 + the number of subdirectories. */
  readonly nlink: number;
  readonly atimeUs: number;
  readonly mtimeUs: number;
  readonly ctimeUs: number;
  /** Files: the replication goal (1..LIMITS.replicationMax). Directories: 0. */
  readonly replication: number;
  readonly replicateAll: boolean;
  /** Chunk slots of a file, holes included; the last one is never a hole. */
  readonly chunkCount: number;
}

export interface ChunkView {
  readonly index: number;
  readonly handle: ChunkHandle;
  readonly version: ChunkVersion;
}

export function toWireAttr(view: AttrView): Attr {
  return {
    inode: String(view.inode),
    kind: view.kind === 'file' ? 'FILE_KIND_FILE' : 'FILE_KIND_DIRECTORY',
    mode: view.mode,
    uid: view.uid,
    gid: view.gid,
    size: String(view.size),
    nlink: view.nlink,
    atimeUs: String(view.atimeUs),
    mtimeUs: String(view.mtimeUs),
    ctimeUs: String(view.ctimeUs),
    replication: view.replication,
    replicateAll: view.replicateAll,
    chunkCount: String(view.chunkCount),
  };
}
