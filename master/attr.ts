import type { Attr } from '../proto/generated/dfs/Attr.js';
import type { FileKind__Output } from '../proto/generated/dfs/FileKind.js';
import type { ChunkHandle, ChunkVersion, InodeId } from '../common/ids.js';

/** What an inode is. Only files have chunks, only directories have entries. */
export const INODE_KINDS = ['file', 'directory', 'symlink', 'fifo', 'socket', 'char-device', 'block-device'] as const;
export type InodeKind = (typeof INODE_KINDS)[number];

/** FileKind (proto/common.proto) of each kind: by name for generated types, by number for the snapshot codec. */
const WIRE_KIND = {
  file: { name: 'FILE_KIND_FILE', number: 1 },
  directory: { name: 'FILE_KIND_DIRECTORY', number: 2 },
  symlink: { name: 'FILE_KIND_SYMLINK', number: 3 },
  fifo: { name: 'FILE_KIND_FIFO', number: 4 },
  socket: { name: 'FILE_KIND_SOCKET', number: 5 },
  'char-device': { name: 'FILE_KIND_CHAR_DEVICE', number: 6 },
  'block-device': { name: 'FILE_KIND_BLOCK_DEVICE', number: 7 },
} as const satisfies Record<InodeKind, { name: FileKind__Output; number: number }>;

export function wireKindName(kind: InodeKind): FileKind__Output {
  return WIRE_KIND[kind].name;
}

export function wireKindNumber(kind: InodeKind): number {
  return WIRE_KIND[kind].number;
}

/** The kind a FileKind names (by name or number), or undefined for UNSPECIFIED and unknown values. */
export function kindFromWire(value: unknown): InodeKind | undefined {
  for (const kind of INODE_KINDS) {
    const wire = WIRE_KIND[kind];
    if (value === wire.name || value === wire.number) return kind;
  }
  return undefined;
}

/** Whether inodes of this kind carry a device number. */
export function isDevice(kind: InodeKind): boolean {
  return kind === 'char-device' || kind === 'block-device';
}

/** The attributes of one inode, as the state machine answers them. */
export interface AttrView {
  readonly inode: InodeId;
  readonly kind: InodeKind;
  /** Permission bits only (0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Files: bytes. Symlinks: the target's bytes. Others: 0. */
  readonly size: number;
  /** Non-directories: the entries that name it (0 once unlinked). Directories: 2 + the number of subdirectories. */
  readonly nlink: number;
  readonly atimeUs: number;
  readonly mtimeUs: number;
  readonly ctimeUs: number;
  /** Files: the replication goal (1..LIMITS.replicationMax). Others: 0. */
  readonly replication: number;
  readonly replicateAll: boolean;
  /** Chunk slots of a file, holes included; the last one is never a hole. */
  readonly chunkCount: number;
  /** Char and block devices: the device number. Others: 0. */
  readonly rdev: number;
}

export interface ChunkView {
  readonly index: number;
  readonly handle: ChunkHandle;
  readonly version: ChunkVersion;
}

export function toWireAttr(view: AttrView): Attr {
  return {
    inode: String(view.inode),
    kind: wireKindName(view.kind),
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
    rdev: view.rdev,
  };
}
