/**
 * The client library: `DfsClient.connect({ masters, security })`, then paths and
 * open files. Errors are DfsError with a stable `code` (see ERROR_CODES).
 */
export {
  DfsClient,
  type Changed,
  type ClusterInfo,
  type CreateOptions,
  type InodeAttrChanges,
  type MkdirOptions,
  type NodeSpec,
  type RenameAtOptions,
  type SetAttrOptions,
} from './dfs-client.js';
export { DfsFile } from './dfs-file.js';
export type { ClientSecurity, DfsClientOptions } from './client-options.js';
export type { Caller, FileAttr, FileKind, DirEntry } from './types.js';
export { ROOT_INODE } from '../common/ids.js';
export { DfsError, ERROR_CODES, isDfsError, type ErrorCode } from '../common/errors.js';
