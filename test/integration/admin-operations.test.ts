import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DfsClient } from '../../client-lib/index.js';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { sleep } from '../../common/backoff.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { chunkHandle } from '../../common/ids.js';
import { dfs } from '../harness/dfs-cli.js';
import { rawClients } from '../harness/raw-clients.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHUNK = 64 * MiB;
const BIG_BYTES = 2 * GiB;
const CAPACITY = '4GiB';
const THRESHOLD_PCT = 10;
const EXIT_DATA_AT_RISK = 3;
/**
 * Timeouts a loaded 2-core machine keeps: moving gigabytes keeps every
 * process busy, and a chunkserver wrongly judged dead would drop replicas
 * (a failure this test is not about). Info logs: debug logs of 2 GiB of
 * traffic cost more CPU than the test.
 */
const LEASE_DURATION_MS = 10_000;
const MASTER_ARGS = [
  '--lease-duration-ms', String(LEASE_DURATION_MS),
  '--heartbeat-interval-ms', '500',
  '--chunkserver-timeout-ms', '6000',
  '--replication-interval-ms', '200',
  '--gc-interval-ms', '500',
  '--log-level', 'info',
];

/** Block i of the big file: a fixed random MiB with i stamped at its start, so any block can be checked alone. */
const PATTERN = randomBytes(MiB);
function block(i: number): Buffer {
  const b = Buffer.from(PATTERN);
  b.writeUInt32BE(i, 0);
  return b;
}

async function fsckTotals(client: DfsClient, path: string) {
  const totals = { chunks: 0, healthy: 0, underReplicated: 0, overReplicated: 0, unavailable: 0, missing: 0 };
  let cursor = '';
  do {
    const page = await client.fsck(path, cursor);
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += Number(page.summary![key]);
    cursor = page.nextCursor;
  } while (cursor !== '');
  return totals;
}

/** Usable replicas of every chunk of a file, as clients are told (GetChunks). */
async function replicasPerChunk(cluster: TestCluster, path: string, client: DfsClient): Promise<{ handle: number; replicas: string[] }[]> {
  const attr = await client.stat(path);
  const raw = rawClients(cluster.masters[0]!, cluster);
  try {
    const response = await callUnary(raw.metadata(), 'GetChunks', { inode: String(attr.inode), firstIndex: '0', count: 0 }, 10_000);
    return response.chunks.map((c) => ({ handle: Number(c.handle), replicas: c.replicas.map((r) => r.id) }));
  } finally {
    raw.close();
  }
}

async function nodes(client: DfsClient) {
  return (await client.listChunkservers()).map((s) => ({
    id: s.server!.id,
    address: s.server!.address,
    alive: s.alive,
    adminState: s.adminState,
    used: Number(s.usedBytes),
    capacity: Number(s.capacityBytes),
    chunks: Number(s.chunkCount),
  }));
}

async function expectBlocks(client: DfsClient, path: string, blocks: readonly number[]): Promise<void> {
  for (const i of blocks) {
    const data = await client.read(path, i * MiB, MiB);
    expect(data.equals(block(i)), `block ${i} of ${path}`).to.equal(true);
  }
}

describe('operator commands that move replicas (real processes)', function () {
  this.timeout(600_000);
  let cluster: TestCluster;
  let client: DfsClient;
  const bigBlocks = BIG_BYTES / MiB;
  const sample = [0, 1, 63, 64, 65, bigBlocks / 2, bigBlocks - 2, bigBlocks - 1];

  before(async () => {
    cluster = await TestCluster.start({
      chunkservers: 3,
      chunkSizeBytes: CHUNK,
      masterArgs: MASTER_ARGS,
      chunkserverArgs: ['--scrub-interval-ms', '0', '--capacity', CAPACITY, '--log-level', 'info'],
    });
    client = await cluster.client();
  });

  let failed = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async () => {
    if (failed) cluster?.keep();
    await cluster?.stop();
  });

  it('rebalance --wait spreads 2 GiB from 3 full chunkservers over 3 new ones, never leaving a chunk below 3 replicas', async () => {
    const started = Date.now();
    const stream = await client.createWriteStream('/big', { replication: 3 });
    await pipeline(Readable.from((function* () {
      for (let i = 0; i < bigBlocks; i++) yield block(i);
    })()), stream);
    const writeEnded = Date.now();
    const writeMs = writeEnded - started;
    console.log(`      wrote ${BIG_BYTES / GiB} GiB at 3 replicas in ${(writeMs / 1000).toFixed(1)} s`);
    expect((await client.stat('/big')).size).to.equal(BIG_BYTES);

    await cluster.growChunkservers(6);
    const grown = await waitFor('six chunkservers reporting', async () => {
      const all = await nodes(client);
      return all.filter((n) => n.alive && n.capacity > 0).length === 6 ? all : undefined;
    });
    expect(grown.filter((n) => n.used === 0)).to.have.length(3);

    // The rebalancer leaves a chunk alone while its write lease lasts; a closed stream's lapse a lease duration after the write.
    await sleep(Math.max(0, writeEnded + LEASE_DURATION_MS + 1_000 - Date.now()));
    const dry = await dfs(cluster, ['--json', 'admin', 'rebalance', '--dry-run', '--threshold', String(THRESHOLD_PCT)]);
    expect(dry.code, dry.stderr).to.equal(0);
    const plan = JSON.parse(dry.stdout) as { movesPlanned: number; moves: { from: string; to: string; bytes: number }[]; maxDeviationPct: number; maxDeviationAfterPct: number };
    expect(plan.movesPlanned).to.be.greaterThan(0);
    // One plan moves each chunk once at most (a run plans again), so it need not reach the threshold alone.
    expect(plan.maxDeviationAfterPct).to.be.lessThan(plan.maxDeviationPct);
    const empty = new Set(grown.filter((n) => n.used === 0).map((n) => n.address));
    for (const m of plan.moves) expect(empty.has(m.to), `${m.to} was empty`).to.equal(true);

    // Sample the goal while the moves run, until the command returns.
    let sampling = true;
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        for (const chunk of await replicasPerChunk(cluster, '/big', client)) {
          expect(chunk.replicas.length, `chunk ${chunk.handle} replicas during the rebalance`).to.be.at.least(3);
        }
        const t = await fsckTotals(client, '/big');
        expect(t.underReplicated + t.unavailable + t.missing, 'fsck during the rebalance').to.equal(0);
        samples++;
        await sleep(200);
      }
    })();
    const rebalanceStarted = Date.now();
    const run = await dfs(cluster, ['--json', 'admin', 'rebalance', '--wait', '--threshold', String(THRESHOLD_PCT), '--max-concurrent', '6']);
    sampling = false;
    await sampler;
    const rebalanceMs = Date.now() - rebalanceStarted;
    expect(run.code, run.stderr).to.equal(0);
    const status = JSON.parse(run.stdout) as { state: string; movesDone: number; bytesMoved: number; movesFailed: number };
    console.log(`      rebalance: ${status.movesDone} moves, ${(status.bytesMoved / GiB).toFixed(2)} GiB in ${(rebalanceMs / 1000).toFixed(1)} s, ${samples} samples`);
    expect(status.state).to.equal('done');
    expect(status.movesDone).to.be.greaterThan(0);
    expect(samples).to.be.greaterThan(0);

    // Deletions of the moved replicas reach the servers with heartbeats: wait for the reports to settle.
    const settled = await waitFor('used space within the threshold of the mean on every node', async () => {
      const all = await nodes(client);
      const mean = all.reduce((s, n) => s + n.used, 0) / all.reduce((s, n) => s + n.capacity, 0);
      return all.every((n) => Math.abs(n.used / n.capacity - mean) * 100 <= THRESHOLD_PCT) ? all : undefined;
    }, 30_000);
    expect(settled.reduce((s, n) => s + n.used, 0)).to.equal(3 * BIG_BYTES);
    const t = await fsckTotals(client, '/big');
    expect(t).to.deep.include({ chunks: BIG_BYTES / CHUNK, healthy: BIG_BYTES / CHUNK });
    await expectBlocks(client, '/big', sample);
  });

  it('decommission --wait copies every replica of the node elsewhere before releasing it; reads stay intact', async () => {
    const before = await nodes(client);
    const victim = before.filter((n) => n.chunks > 0).sort((a, b) => b.chunks - a.chunks)[0]!;
    const run = await dfs(cluster, ['--json', 'admin', 'decommission', victim.address, '--wait']);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.include({ id: victim.id, state: 'decommissioned' });
    // Released only once every chunk had its goal on other servers.
    const chunks = await replicasPerChunk(cluster, '/big', client);
    for (const chunk of chunks) {
      expect(chunk.replicas.filter((id) => id !== victim.id).length, `chunk ${chunk.handle} elsewhere`).to.be.at.least(3);
    }
    await waitFor('the decommissioned node emptied', async () => ((await nodes(client)).find((n) => n.id === victim.id)!.chunks === 0 ? true : undefined), 30_000);
    const name = cluster.chunkservers().find((p) => p.address === victim.address)!.name;
    await cluster.killAndWait(name);
    await expectBlocks(client, '/big', sample);
    const t = await fsckTotals(client, '/big');
    expect(t.healthy).to.equal(t.chunks);
    const listed = await dfs(cluster, ['--json', 'admin', 'nodes']);
    const row = (JSON.parse(listed.stdout) as { id: string; state: string }[]).find((r) => r.id === victim.id)!;
    expect(row.state).to.equal('decommissioned');
  });

  it('setrep 3 -> 5 -> 3 --wait: every chunk holds 5, then surplus replicas go, never below 3', async () => {
    const data = randomBytes(3 * CHUNK - 5 * MiB);
    await client.writeFile('/small', data, { replication: 3 });
    const up = await dfs(cluster, ['--json', 'admin', 'setrep', '5', '/small', '--wait']);
    expect(up.code, up.stderr).to.equal(0);
    for (const chunk of await replicasPerChunk(cluster, '/small', client)) expect(chunk.replicas).to.have.length(5);
    const down = await dfs(cluster, ['--json', 'admin', 'setrep', '3', '/small', '--wait']);
    expect(down.code, down.stderr).to.equal(0);
    expect(JSON.parse(down.stdout)).to.deep.include({ replication: 3, files: 1 });
    for (const chunk of await replicasPerChunk(cluster, '/small', client)) expect(chunk.replicas).to.have.length(3);
    expect((await client.readFile('/small')).equals(data)).to.equal(true);
    const bad = await dfs(cluster, ['admin', 'setrep', '5', '/']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/INVALID_ARGUMENT.*-R/);
  });

  it('maintenance: a node that goes down in maintenance is not re-replicated; off re-replicates', async () => {
    const [first] = await replicasPerChunk(cluster, '/small', client);
    const holderId = first!.replicas[0]!;
    const holder = (await nodes(client)).find((n) => n.id === holderId)!;
    const on = await dfs(cluster, ['--json', 'admin', 'maintenance', holder.address, 'on']);
    expect(on.code, on.stderr).to.equal(0);
    expect(JSON.parse(on.stdout)).to.deep.include({ state: 'maintenance' });
    const name = cluster.chunkservers().find((p) => p.address === holder.address)!.name;
    await cluster.killAndWait(name);
    await waitFor('the node seen down', async () => ((await nodes(client)).find((n) => n.id === holderId)!.alive ? undefined : true));
    // Many replication rounds after it was judged dead: no copy replaces its replicas.
    await sleep(3_000);
    for (const chunk of await replicasPerChunk(cluster, '/small', client)) {
      if (chunk.handle === first!.handle) expect(chunk.replicas).to.have.length(2);
    }
    const t = await fsckTotals(client, '/small');
    expect(t.missing + t.unavailable).to.equal(0);

    const off = await dfs(cluster, ['--json', 'admin', 'maintenance', holderId, 'off']);
    expect(off.code, off.stderr).to.equal(0);
    await waitFor('re-replicated after maintenance off', async () => {
      const chunks = await replicasPerChunk(cluster, '/small', client);
      return chunks.every((c) => c.replicas.length === 3 && !c.replicas.includes(holderId)) ? true : undefined;
    }, 60_000);
  });

  it('fsck reports a chunk whose replicas were deleted from disk, and exits non-zero', async () => {
    await client.writeFile('/lost', randomBytes(MiB), { replication: 2 });
    const healthy = await dfs(cluster, ['--json', 'admin', 'fsck', '/lost']);
    expect(healthy.code, healthy.stderr).to.equal(0);
    expect(JSON.parse(healthy.stdout)).to.deep.include({ status: 'healthy' });

    const [chunk] = await replicasPerChunk(cluster, '/lost', client);
    const byId = new Map<string, string>();
    for (const cs of cluster.chunkservers()) byId.set(await cluster.serverId(cs.name), cs.name);
    // Gone from disk behind the chunkservers' backs; on restart each finds its metadata without a file.
    // Both down before either file goes, or the master would copy the chunk from the other.
    const names = chunk!.replicas.map((id) => byId.get(id)!);
    for (const name of names) await cluster.killAndWait(name);
    for (const name of names) await rm(chunkPath(cluster.process(name).dataDir, chunkHandle(chunk!.handle)));
    await cluster.restart();

    const report = await waitFor('fsck to see the chunk missing', async () => {
      const run = await dfs(cluster, ['--json', 'admin', 'fsck', '/']);
      const parsed = JSON.parse(run.stdout) as { status: string; summary: { missing: number }; files: { path: string; chunks: { health: string }[] }[] };
      return parsed.status === 'at-risk' ? { run, parsed } : undefined;
    }, 30_000);
    expect(report.run.code).to.equal(EXIT_DATA_AT_RISK);
    expect(report.parsed.summary.missing).to.equal(1);
    // Restarted servers may briefly bring back surplus replicas of other files: only /lost is at risk.
    const lost = report.parsed.files.find((f) => f.path === '/lost')!;
    expect(lost.chunks.map((c) => c.health)).to.deep.equal(['missing']);
    for (const f of report.parsed.files.filter((g) => g.path !== '/lost')) {
      for (const c of f.chunks) expect(['missing', 'unavailable'], `${f.path}`).not.to.include(c.health);
    }
    const human = await dfs(cluster, ['admin', 'fsck']);
    expect(human.code).to.equal(EXIT_DATA_AT_RISK);
    expect(human.stdout).to.match(/DATA AT RISK/);
    expect(human.stdout).to.match(/\/lost/);
  });
});
