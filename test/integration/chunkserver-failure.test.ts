import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { chunkHandle } from '../../common/ids.js';
import type { DfsClient } from '../../client-lib/index.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';
import { rawClients } from '../harness/raw-clients.js';

const MiB = 1024 * 1024;

/**
 * Writes `data` through a stream in 256 KiB pieces, paced so that the write
 * is still going when `fault` (started once `after` bytes were written, and
 * running beside the writer) strikes.
 */
async function streamWithFault(sink: Writable, data: Buffer, after: number, fault: () => Promise<void>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => sink.on('finish', resolve).on('error', reject));
  let faulting: Promise<void> | undefined;
  for (let i = 0; i < data.length; i += 256 * 1024) {
    if (faulting === undefined && i >= after) faulting = fault();
    if (!sink.write(data.subarray(i, i + 256 * 1024))) await new Promise((r) => sink.once('drain', r));
    await new Promise((r) => setTimeout(r, 15));
  }
  sink.end();
  await Promise.all([done, faulting]);
}

describe('a chunkserver killed in the middle of a write (4 chunkservers, 3 replicas)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let client: DfsClient;
  let raw: ReturnType<typeof rawClients>;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 4 });
    client = await cluster.client();
    raw = rawClients(cluster.masters[0]!);
  });
  after(async () => {
    raw?.close();
    await cluster?.stop();
  });
  // A failed test must not leave the next one short of a chunkserver.
  afterEach(async () => cluster.restart());

  /** The chunkserver (by name) in the given role of the lease on the chunk being written. */
  async function holderOfCurrentChunk(path: string, index: number, role: 'primary' | 'secondary'): Promise<string> {
    const metadata = raw.metadata();
    const inode = String((await client.stat(path)).inode);
    const handle = await waitFor(`chunk ${index} of ${path} allocated`, async () => {
      const chunks = await callUnary(metadata, 'GetChunks', { inode, firstIndex: String(index), count: 1 }, 5000);
      return chunks.chunks[0]?.handle;
    });
    const { lease } = await callUnary(metadata, 'GetLease', { handle }, 5000);
    const id = role === 'primary' ? lease!.primary!.id : lease!.secondaries[0]!.id;
    for (const cs of cluster.chunkservers()) if ((await cluster.serverId(cs.name)) === id) return cs.name;
    throw new Error(`no chunkserver with id ${id}`);
  }

  /** Waits until every chunk of the file has `goal` usable replicas, none of them on `excluded`. */
  async function waitForGoal(path: string, goal: number, excludedId?: string): Promise<void> {
    await waitFor(`every chunk of ${path} at ${goal} replicas`, async () => {
      const metadata = raw.metadata();
      const inode = String((await client.stat(path)).inode);
      const page = await callUnary(metadata, 'GetChunks', { inode, firstIndex: '0', count: 0 }, 5000);
      const ok = page.chunks.every(
        (c) => c.replicas.length === goal && !c.replicas.some((r) => r.id === excludedId),
      );
      return ok ? true : undefined;
    }, 60_000);
  }

  for (const role of ['secondary', 'primary'] as const) {
    it(`loses no acknowledged byte when a ${role} dies, and the chunks get back to 3 replicas`, async () => {
      const path = `/killed-${role}.bin`;
      const data = randomBytes(12 * MiB + 4321);
      let victim = '';
      const sink = await client.createWriteStream(path);
      await streamWithFault(sink, data, 3 * MiB, async () => {
        // As soon as chunk 5 is being written, kill one of its replicas.
        victim = await holderOfCurrentChunk(path, 5, role);
        await cluster.killAndWait(victim);
      });
      expect((await client.stat(path)).size).to.equal(data.length);
      expect((await client.readFile(path)).equals(data), 'data read back intact').to.equal(true);

      const victimId = await cluster.serverId(victim);
      await waitForGoal(path, 3, victimId);
      expect((await client.readFile(path)).equals(data), 'data intact after re-replication').to.equal(true);

      // The dead node comes back with stale replicas: they are never offered and get deleted.
      await cluster.restart();
      const inode = String((await client.stat(path)).inode);
      const page = await callUnary(raw.metadata(), 'GetChunks', { inode, firstIndex: '0', count: 0 }, 5000);
      await waitFor('stale replicas deleted from the restarted node', async () => {
        for (const c of page.chunks) {
          const offered = c.replicas.some((r) => r.id === victimId);
          const onDisk = existsSync(chunkPath(cluster.process(victim).dataDir, chunkHandle(c.handle)));
          if (onDisk && !offered) return undefined;
        }
        return true;
      }, 30_000);
      await waitForGoal(path, 3);
      expect((await client.readFile(path)).equals(data), 'data intact after the node returned').to.equal(true);
    });
  }
});
