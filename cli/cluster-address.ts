import { resolve } from 'node:path';
import { DfsError } from '../common/errors.js';
import { readClusterFile } from './cluster-file.js';

/**
 * Where the masters are: --masters, else $DFS_MASTERS, else the cluster.json
 * of the local cluster in --dir (default ./data).
 */
export async function findMasters(flag: string | undefined, env: NodeJS.ProcessEnv, dir: string): Promise<string[]> {
  const list = flag ?? env.DFS_MASTERS;
  if (list !== undefined && list.trim() !== '') return list.split(',').map((s) => s.trim()).filter(Boolean);
  const file = await readClusterFile(resolve(dir));
  if (file !== undefined) return file.masters;
  throw new DfsError(
    'INVALID_ARGUMENT',
    `no cluster given: use --masters host:port, set DFS_MASTERS, or run in a directory with ${dir}/cluster.json (dfs cluster start)`,
  );
}
