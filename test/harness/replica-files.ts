import { readFile } from 'node:fs/promises';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { chunkHandle } from '../../common/ids.js';
import type { DfsClient } from '../../client-lib/index.js';
import type { TestCluster } from './test-cluster.js';

export interface ChunkReplicas {
  index: number;
  handle: number;
  version: number;
  /** Chunkserver name -> the bytes of its replica file on disk. */
  files: Map<string, Buffer>;
}

/** Reads every replica of every chunk of a file straight from the chunkservers' disks. */
export async function replicaFiles(cluster: TestCluster, client: DfsClient, path: string): Promise<ChunkReplicas[]> {
  const byId = new Map<string, string>();
  for (const cs of cluster.chunkservers()) byId.set(await cluster.serverId(cs.name), cs.name);
  const file = await client.open(path);
  const out: ChunkReplicas[] = [];
  for (let index = 0; index < file.stat.chunkCount; index++) {
    const chunk = await (file as unknown as { chunk(i: number, allocate: boolean): Promise<{ handle: number; version: number; replicas: { id: string }[] } | undefined> }).chunk(index, false);
    if (chunk === undefined) continue;
    const files = new Map<string, Buffer>();
    for (const replica of chunk.replicas) {
      const name = byId.get(replica.id)!;
      files.set(name, await readFile(chunkPath(cluster.process(name).dataDir, chunkHandle(chunk.handle))));
    }
    out.push({ index, handle: chunk.handle, version: chunk.version, files });
  }
  return out;
}
