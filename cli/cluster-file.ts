import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DfsError } from '../common/errors.js';
import type { ClientSecurity } from '../client-lib/client-options.js';

export interface ClusterProcess {
  role: 'master' | 'chunkserver';
  name: string;
  dataDir: string;
  address: string;
  port: number;
  /** HTTP (metrics, health, dashboard on masters); absent when the process serves none. */
  httpPort?: number;
  pid: number;
  logFile: string;
  zone: string;
  rack: string;
}

/** DIR/cluster.json: what `dfs cluster start` left running, for the CLI, tests and `cluster stop`. */
export interface ClusterFile {
  version: 1;
  masters: string[];
  chunkSizeBytes: number;
  /** http://host:httpPort/ of the first master (its dashboard); absent when that master serves no HTTP. */
  dashboard?: string;
  /** How the CLI reaches the cluster: the admin's credentials directory, or plaintext for a cluster started --insecure. */
  security: ClientSecurity;
  processes: ClusterProcess[];
}

export function clusterFilePath(dir: string): string {
  return join(dir, 'cluster.json');
}

export async function readClusterFile(dir: string): Promise<ClusterFile | undefined> {
  let text: string;
  try {
    text = await readFile(clusterFilePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as ClusterFile;
  if (parsed.version !== 1 || !Array.isArray(parsed.masters)) {
    throw new DfsError('INVALID_ARGUMENT', `${clusterFilePath(dir)} is not a cluster file this version understands`);
  }
  return parsed;
}

export async function writeClusterFile(dir: string, file: ClusterFile): Promise<void> {
  const path = clusterFilePath(dir);
  await writeFile(`${path}.tmp`, JSON.stringify(file, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}
