import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { fromGrpcError } from '../../common/grpc-errors.js';
import { chunkHandle } from '../../common/ids.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import type { DfsClient } from '../../client-lib/index.js';
import { scrape, total } from '../harness/prometheus-text.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';
import { rawClients } from '../harness/raw-clients.js';
import { replicaFiles } from '../harness/replica-files.js';

const MiB = 1024 * 1024;

async function flipByte(path: string, offset: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x40;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}

/** The chunk's handle and its replicas as the master lists them. */
async function chunkReplicas(cluster: TestCluster, client: DfsClient, path: string, index: number) {
  const raw = rawClients(cluster.masters[0]!, cluster);
  try {
    const inode = String((await client.stat(path)).inode);
    const page = await callUnary(raw.metadata(), 'GetChunks', { inode, firstIndex: String(index), count: 1 }, 5000);
    return page.chunks[0]!;
  } finally {
    raw.close();
  }
}

/** A chunkserver's counter, summed over its labels' values in `where`, read from its /metrics. */
async function counter(cluster: TestCluster, name: string, metric: string, where: Record<string, string> = {}): Promise<number> {
  const p = cluster.process(name);
  return total(await scrape(p.address.slice(0, p.address.lastIndexOf(':')), p.httpPort!), metric, where);
}

async function nameOf(cluster: TestCluster, id: string): Promise<string> {
  for (const cs of cluster.chunkservers()) if ((await cluster.serverId(cs.name)) === id) return cs.name;
  throw new Error(`unknown server ${id}`);
}

describe('a corrupted replica on disk', function () {
  this.timeout(120_000);

  describe('found by a read', () => {
    let cluster: TestCluster;
    let client: DfsClient;
    before(async () => {
      cluster = await TestCluster.start({ chunkservers: 4 });
      client = await cluster.client();
    });
    after(async () => cluster?.stop());

    it('never reaches the reader, is reported, and is replaced', async () => {
      const data = randomBytes(2 * MiB + 5000);
      await client.writeFile('/victim.bin', data);
      const chunk = await chunkReplicas(cluster, client, '/victim.bin', 1);
      const bad = await nameOf(cluster, chunk.replicas[0]!.id);
      await flipByte(chunkPath(cluster.process(bad).dataDir, chunkHandle(chunk.handle)), 300_000);

      // Straight to the bad replica: the checksum catches it.
      const raw = rawClients(cluster.process(bad).address, cluster);
      const stream = raw.data().Read({ handle: chunk.handle, version: chunk.version, offset: '0', length: String(MiB) });
      const error = await new Promise<unknown>((resolve) => {
        stream.on('data', () => undefined);
        stream.on('error', resolve);
        stream.on('end', () => resolve(undefined));
      });
      raw.close();
      expect(error, 'reading the corrupt replica fails').to.not.equal(undefined);
      expect(fromGrpcError(error).code).to.equal('CHECKSUM_MISMATCH');

      // Through the client: always the right bytes, whichever replica it tries first.
      for (let i = 0; i < 5; i++) expect((await client.readFile('/victim.bin')).equals(data)).to.equal(true);

      // Back to 3 replicas, each of them sound on disk (the bad server may hold a fresh copy).
      const expected = data.subarray(MiB, 2 * MiB);
      await waitFor('the corrupt replica replaced by good ones', async () => {
        const chunks = await replicaFiles(cluster, client, '/victim.bin');
        const replicas = [...chunks[1]!.files.values()];
        return replicas.length === 3 && replicas.every((bytes) => bytes.equals(expected)) ? true : undefined;
      }, 30_000);
      expect((await client.readFile('/victim.bin')).equals(data)).to.equal(true);

      // What the operator sees: the failed blocks and the dropped replica on the bad server, a chunk's copy in and out.
      expect(await counter(cluster, bad, 'dfs_chunkserver_checksum_failures_total')).to.be.at.least(1);
      expect(await counter(cluster, bad, 'dfs_chunkserver_corrupt_replicas_total')).to.equal(1);
      const servers = cluster.chunkservers().map((p) => p.name);
      const copied = async (metric: string) => (await Promise.all(servers.map((n) => counter(cluster, n, metric, { purpose: 'copy' })))).reduce((a, b) => a + b, 0);
      expect(await copied('dfs_chunkserver_written_bytes_total')).to.be.at.least(MiB);
      expect(await copied('dfs_chunkserver_read_bytes_total')).to.be.at.least(MiB);
    });
  });

  describe('found by the scrubber', () => {
    let cluster: TestCluster;
    let client: DfsClient;
    before(async () => {
      cluster = await TestCluster.start({ chunkservers: 4, chunkserverArgs: ['--scrub-interval-ms', '100'] });
      client = await cluster.client();
    });
    after(async () => cluster?.stop());

    it('is replaced without anyone reading it', async () => {
      const data = randomBytes(MiB - 10);
      await client.writeFile('/idle.bin', data);
      const chunk = await chunkReplicas(cluster, client, '/idle.bin', 0);
      const bad = await nameOf(cluster, chunk.replicas[1]!.id);
      await flipByte(chunkPath(cluster.process(bad).dataDir, chunkHandle(chunk.handle)), 12_345);
      await waitFor('the scrubbed replica replaced by good ones', async () => {
        const chunks = await replicaFiles(cluster, client, '/idle.bin');
        const replicas = [...chunks[0]!.files.values()];
        return replicas.length === 3 && replicas.every((bytes) => bytes.equals(data)) ? true : undefined;
      }, 30_000);
      expect((await client.readFile('/idle.bin')).equals(data)).to.equal(true);
      expect(await counter(cluster, bad, 'dfs_chunkserver_scrubbed_replicas_total')).to.be.at.least(1);
      expect(await counter(cluster, bad, 'dfs_chunkserver_corrupt_replicas_total')).to.equal(1);
    });
  });
});
