import { resolve } from 'node:path';
import type { ClientSecurity } from '../client-lib/client-options.js';
import { DfsError } from '../common/errors.js';
import { clusterCredentialDirs } from './cluster-credentials.js';
import { readClusterFile } from './cluster-file.js';

/** The flags every client command takes to find its cluster. */
export interface ClusterFlags {
  masters?: string | undefined;
  tlsDir?: string | undefined;
  insecure?: boolean | undefined;
}

export interface ClusterTarget {
  masters: string[];
  security: ClientSecurity;
}

/**
 * Where the masters are: --masters, else $DFS_MASTERS, else the cluster.json
 * of the local cluster in `dir`. How to reach them: --tls-dir, --insecure,
 * $DFS_TLS_DIR, $DFS_INSECURE=1, else the local cluster's credentials (its
 * admin's, or its mount's for `as: 'mount'`).
 */
export async function findCluster(flags: ClusterFlags, env: NodeJS.ProcessEnv, dir: string, as: 'admin' | 'mount' = 'admin'): Promise<ClusterTarget> {
  const file = await readClusterFile(resolve(dir));
  const list = flags.masters ?? env.DFS_MASTERS;
  let masters: string[];
  if (list !== undefined && list.trim() !== '') masters = list.split(',').map((s) => s.trim()).filter(Boolean);
  else if (file !== undefined) masters = file.masters;
  else {
    throw new DfsError(
      'INVALID_ARGUMENT',
      `no cluster given: use --masters host:port, set DFS_MASTERS, or run in a directory with ${dir}/cluster.json (dfs cluster start)`,
    );
  }
  return { masters, security: findSecurity(flags, env, dir, file?.security, as) };
}

function findSecurity(flags: ClusterFlags, env: NodeJS.ProcessEnv, dir: string, local: ClientSecurity | undefined, as: 'admin' | 'mount'): ClientSecurity {
  if (flags.tlsDir !== undefined && flags.insecure) throw new DfsError('INVALID_ARGUMENT', 'give --tls-dir or --insecure, not both');
  if (flags.tlsDir !== undefined) return { tlsDir: resolve(flags.tlsDir) };
  if (flags.insecure) return { insecure: true };
  if (env.DFS_TLS_DIR !== undefined && env.DFS_TLS_DIR !== '') return { tlsDir: resolve(env.DFS_TLS_DIR) };
  if (env.DFS_INSECURE === '1') return { insecure: true };
  if (local !== undefined) return 'insecure' in local || as === 'admin' ? local : { tlsDir: clusterCredentialDirs(resolve(dir)).mount };
  throw new DfsError(
    'INVALID_ARGUMENT',
    'no credentials: use --tls-dir DIR (made by dfs security issue) or $DFS_TLS_DIR, or --insecure for a plaintext cluster',
  );
}
