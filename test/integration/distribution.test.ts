import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import type { DfsClient } from '../../client-lib/index.js';
import { sleep } from '../../common/backoff.js';
import { dfs } from '../harness/dfs-cli.js';
import { scrape, total } from '../harness/prometheus-text.js';
import { replicaFiles } from '../harness/replica-files.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const NODES = 6;

/** The file's bytes: a fixed random pattern, so any prefix can be checked. */
const PATTERN = randomBytes(64 * MiB);

interface StatusJson {
  nodes: number;
  nodesComplete: number;
  complete: boolean;
  fileBytes: number;
  originSentBytes: number;
  bytesDone: number;
  bytesWanted: number;
  nodeStatus: { address: string; complete: boolean; chunksHeld: number }[];
}

describe('distribution of a file to every node (replication all, 6 chunkservers)', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let client: DfsClient;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: NODES });
    client = await cluster.client();
  });

  after(async () => {
    await cluster?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      cluster.keep();
      for (const cs of cluster.chunkservers()) console.error(`--- ${cs.name}\n${cluster.logTail(cs.name, 15)}`);
      console.error(`--- master-1\n${cluster.logTail('master-1', 30)}`);
    }
  });

  async function write(path: string, bytes: number): Promise<void> {
    await client.writeFile(path, PATTERN.subarray(0, bytes), { replication: 3 });
  }

  async function status(path: string): Promise<StatusJson> {
    const run = await dfs(cluster, ['admin', 'distribute', 'status', path, '--json', '--nodes', '100']);
    expect(run.code, run.stderr).to.equal(0);
    return JSON.parse(run.stdout) as StatusJson;
  }

  /** Every live chunkserver holds every chunk, and every replica on disk holds exactly the file's bytes. */
  async function expectEverywhere(path: string, size: number, holders: number): Promise<void> {
    const chunks = await replicaFiles(cluster, client, path);
    expect(chunks).to.have.length(Math.ceil(size / cluster.chunkSizeBytes));
    for (const chunk of chunks) {
      const start = chunk.index * cluster.chunkSizeBytes;
      const want = PATTERN.subarray(start, Math.min(size, start + cluster.chunkSizeBytes));
      expect(chunk.files.size, `holders of chunk ${chunk.index}`).to.equal(holders);
      for (const [name, bytes] of chunk.files) {
        expect(sha(bytes.subarray(0, want.length)), `chunk ${chunk.index} on ${name}`).to.equal(sha(want));
      }
    }
  }

  async function copiedIn(): Promise<number> {
    let sum = 0;
    for (const cs of cluster.chunkservers()) sum += total(await scrape('127.0.0.1', cs.httpPort!), 'dfs_chunkserver_written_bytes_total', { purpose: 'copy' });
    return sum;
  }

  it('setrep all --wait returns once every node holds every chunk, and status says so', async () => {
    const size = 8 * MiB - 128 * KiB;
    await write('/hot', size);
    const run = await dfs(cluster, ['admin', 'setrep', 'all', '/hot', '--wait', '--json']);
    expect(run.code, run.stderr).to.equal(0);
    const result = JSON.parse(run.stdout) as { distribution: StatusJson };
    expect(result.distribution.nodesComplete).to.equal(NODES);
    await expectEverywhere('/hot', size, NODES);

    const s = await status('/hot');
    expect(s.complete).to.equal(true);
    expect(s.nodes).to.equal(NODES);
    expect(s.bytesDone).to.equal(s.bytesWanted);
    expect(s.nodeStatus.every((n) => n.complete)).to.equal(true);
    // The durable tier (3 replicas) feeds the other 3 nodes; a tree sends each chunk from it about once.
    expect(s.originSentBytes).to.be.greaterThan(0).and.at.most(3 * size);

    const text = await dfs(cluster, ['admin', 'distribute', 'status', '/hot']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.contain(`nodes complete ${NODES}/${NODES}`);
  });

  it('an append ships only the new bytes, and readers never see bytes that were not written', async () => {
    const before = (await client.stat('/hot')).size;
    const appended = 512 * KiB;
    const moved0 = await copiedIn();
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const got = await client.readFile('/hot');
        expect(got.length).to.be.at.least(before);
        expect(sha(got), `read ${reads} of ${got.length} bytes`).to.equal(sha(PATTERN.subarray(0, got.length)));
        reads++;
      }
    })();
    try {
      await client.write('/hot', before, PATTERN.subarray(before, before + appended));
      await waitFor('the append on every node', async () => ((await status('/hot')).complete ? true : undefined), 60_000);
    } finally {
      reading = false;
      await reader;
    }
    expect(reads).to.be.greaterThan(0);
    await expectEverywhere('/hot', before + appended, NODES);
    // Durable replicas get the append through the pipeline; the other 3 nodes fetch only what changed.
    const moved = (await copiedIn()) - moved0;
    const wholeChunks = 3 * 2 * cluster.chunkSizeBytes;
    expect(moved, 'bytes copied to nodes for the increment').to.be.at.most(3 * appended * 1.5);
    expect(moved).to.be.lessThan(wholeChunks);
  });

  it('appenders pausing now and then on a file on every node: every acknowledged record once, every node ends identical', async () => {
    await client.writeFile('/log', Buffer.alloc(0), { replication: 3 });
    const set = await dfs(cluster, ['admin', 'setrep', 'all', '/log']);
    expect(set.code, set.stderr).to.equal(0);
    const acked: string[] = [];
    const deadline = Date.now() + 6_000;
    // Pauses longer than distributionLeaseIdleMs (500 ms) hand the lease back between bursts: each burst gets a new lease.
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const writer = await cluster.client();
        for (let i = 0; Date.now() < deadline; i++) {
          const record = `w${w}-r${i}|`;
          await writer.append('/log', Buffer.from(record));
          acked.push(record);
          if (i % 10 === 9) await sleep(300 + Math.random() * 600);
        }
      }),
    );
    const s = await waitFor('the log on every node', async () => {
      const s = await status('/log');
      return s.complete && s.fileBytes === (await client.stat('/log')).size ? s : undefined;
    }, 60_000);
    expect(s.nodes).to.equal(NODES);
    const content = (await client.readFile('/log')).toString('latin1').replace(/\0+/g, '');
    const records = content.split('|').filter(Boolean).map((r) => r + '|');
    expect(new Set(records).size, 'no duplicates').to.equal(records.length);
    for (const r of acked) expect(records, `acknowledged ${r}`).to.include(r);
    const chunks = await replicaFiles(cluster, client, '/log');
    for (const chunk of chunks) {
      expect(chunk.files.size).to.equal(NODES);
      const copies = new Set([...chunk.files.values()].map((b) => sha(b)));
      expect(copies.size, `replicas of chunk ${chunk.index} identical`).to.equal(1);
    }
  });

  it('routes around a node that dies mid-distribution; it catches up when it returns, and so does a new node', async () => {
    const size = 48 * MiB;
    await write('/big', size);
    const set = await dfs(cluster, ['admin', 'setrep', 'all', '/big']);
    expect(set.code, set.stderr).to.equal(0);
    await sleep(300);
    const victim = cluster.chunkservers()[4]!.name;
    await cluster.killAndWait(victim);
    await waitFor(
      'every live node complete',
      async () => {
        const s = await status('/big');
        return s.nodes === NODES - 1 && s.complete ? s : undefined;
      },
      90_000,
    );
    await cluster.restart();
    await cluster.growChunkservers(NODES + 1);
    const s = await waitFor(
      'the returning and the new node complete',
      async () => {
        const s = await status('/big');
        return s.nodes === NODES + 1 && s.complete ? s : undefined;
      },
      90_000,
    );
    expect(s.nodeStatus.every((n) => n.chunksHeld === size / cluster.chunkSizeBytes)).to.equal(true);
    await expectEverywhere('/big', size, NODES + 1);
  });

  it('refuses to report on what is not a file', async () => {
    const run = await dfs(cluster, ['admin', 'distribute', 'status', '/', '--json']);
    expect(run.code).to.not.equal(0);
    expect(run.stderr).to.match(/not a file/);
    const missing = await dfs(cluster, ['admin', 'distribute', 'status', '/nope']);
    expect(missing.code).to.not.equal(0);
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
