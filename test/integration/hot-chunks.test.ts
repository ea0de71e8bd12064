import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { DfsClient } from '../../client-lib/index.js';
import { replicaFiles } from '../harness/replica-files.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';

/** A chunk read at 20 calls/s or more gets a replica per 20/s, up to 5; heat halves every 2 s without reads. */
const MASTER_ARGS = [...FAST_MASTER_ARGS, '--hot-chunk-reads-per-s', '20', '--hot-chunk-replicas-max', '5', '--hot-chunk-half-life-ms', '2000'];

describe('hot chunks: read heat adds replicas, and they go when it cools (6 chunkservers)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: DfsClient;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 6, masterArgs: MASTER_ARGS });
    client = await cluster.client();
  });

  after(async () => {
    await cluster?.stop();
  });

  async function holders(path: string): Promise<number> {
    const [chunk] = await replicaFiles(cluster, client, path);
    return chunk!.files.size;
  }

  it('a chunk read hot gets up to the cap of replicas, all holding its bytes, then drops back to its goal', async () => {
    const data = randomBytes(256 * 1024);
    await client.writeFile('/warm', data, { replication: 2 });
    expect(await holders('/warm')).to.equal(2);

    let reading = true;
    let reads = 0;
    const readers = Array.from({ length: 8 }, async () => {
      const reader = await cluster.client();
      while (reading) {
        const at = Math.floor(Math.random() * 60) * 4096;
        const got = await reader.read('/warm', at, 4096);
        expect(got.equals(data.subarray(at, at + 4096))).to.equal(true);
        reads++;
      }
    });
    try {
      await waitFor('the hot chunk at the cap of 5 replicas', async () => ((await holders('/warm')) === 5 ? true : undefined), 40_000);
    } finally {
      reading = false;
      await Promise.all(readers);
    }
    expect(reads).to.be.greaterThan(100);
    const [chunk] = await replicaFiles(cluster, client, '/warm');
    for (const [name, bytes] of chunk!.files) expect(bytes.subarray(0, data.length).equals(data), `replica on ${name}`).to.equal(true);

    await waitFor('the cooled chunk back at its goal of 2', async () => ((await holders('/warm')) === 2 ? true : undefined), 40_000);
    expect((await client.readFile('/warm')).equals(data)).to.equal(true);
  });
});
