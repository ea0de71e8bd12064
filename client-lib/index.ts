/**
 * The client library: `DfsClient.connect({ masters })`, then paths and
 * open files. Errors are DfsError with a stable `code` (see ERROR_CODES).
 */
export { DfsClient, type ClusterInfo, type CreateOptions, type MkdirOptions, type SetAttrOptions } from './dfs-client.js';
export { DfsFile } from './dfs-file.js';
export type { DfsClientOptions } from './client-options.js';
export type { FileAttr, DirEntry } from './types.js';
export { DfsError, ERROR_CODES, isDfsError, type ErrorCode } from '../common/errors.js';
