import type { Role } from './identity.js';

/**
 * Which roles may call each service: masters talk Raft and drive
 * chunkservers; chunkservers register and forward writes to each other;
 * admins (and masters, which ask each other for Raft status) use Admin;
 * users, mounts and admins use the namespace; anyone authenticated may call
 * ChunkData, but only against a chunk access token, which chunkservers alone
 * (copying replicas) need not show.
 */
const SERVICE_ROLES: Readonly<Record<string, readonly Role[]>> = {
  'dfs.raft.RaftTransport': ['master'],
  'dfs.master.Registry': ['chunkserver'],
  'dfs.master.Admin': ['admin', 'master'],
  'dfs.master.Metadata': ['user', 'mount', 'admin'],
  'dfs.chunk.ChunkControl': ['master'],
  'dfs.chunk.ChunkReplication': ['chunkserver'],
  'dfs.chunk.ChunkData': ['user', 'mount', 'admin', 'chunkserver'],
};

/** Methods open to more roles than their service: a mount lists chunkservers to find the ones on its own machine. */
const METHOD_ROLES: Readonly<Record<string, readonly Role[]>> = {
  '/dfs.master.Admin/ListChunkservers': ['admin', 'master', 'mount'],
};

/** "dfs.master.Admin" of "/dfs.master.Admin/Fsck". */
export function serviceOf(path: string): string {
  return path.slice(1, path.lastIndexOf('/'));
}

/** Roles that may call the method at `path` ("/dfs.master.Admin/Fsck"); none for a service we do not serve. */
export function rolesAllowed(path: string): readonly Role[] {
  return METHOD_ROLES[path] ?? SERVICE_ROLES[serviceOf(path)] ?? [];
}

export function mayCall(role: Role, path: string): boolean {
  return rolesAllowed(path).includes(role);
}

/** ChunkData calls need a chunk access token unless the caller is a chunkserver. */
export function needsChunkToken(role: Role, service: string): boolean {
  return service === 'dfs.chunk.ChunkData' && role !== 'chunkserver';
}

export const METADATA_SERVICE = 'dfs.master.Metadata';
