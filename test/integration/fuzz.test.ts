import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isAlive } from '../../cli/process-launcher.js';
import { LIMITS } from '../../common/limits.js';
import type { DfsClient } from '../../client-lib/index.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';
import { entriesOf, findEscapes } from '../fuzz/escape-check.js';
import { runStorm, type FuzzTarget, type StormResult } from '../fuzz/fuzz-storm.js';
import type { FuzzWorld } from '../fuzz/fuzz-world.js';
import { fuzzMethods } from '../fuzz/schema.js';
import { buildWorld, type ReferenceFile } from '../fuzz/world-builder.js';

/**
 * Issue 7: thousands of random and mutated messages to every RPC of every
 * service, on the leader, a follower and every chunkserver. Each call must
 * end before its deadline with success or a clear error, and afterwards
 * every process lives, the cluster is healthy, the reference files read back
 * byte for byte, and nothing appeared outside the servers' data.
 *
 * FUZZ_CALLS (total calls, default 3600), FUZZ_SEED (default 3, so that CI
 * is deterministic; `random` for a fresh one, printed), FUZZ_ONLY='dfs.chunk.ChunkData.Write#17' (one case, to
 * reproduce), FUZZ_CONCURRENCY (default 12). See test/fuzz/OVERVIEW.md.
 */
const TOTAL_CALLS = Number(process.env.FUZZ_CALLS ?? 3600);
const SEED = process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 3);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 12);
const ONLY = parseOnly(process.env.FUZZ_ONLY);
/** A call's deadline: far above any answer a healthy server owes (the longest, a copy from a dead source, gives up within seconds). */
const CALL_DEADLINE_MS = 20_000;

function parseOnly(value: string | undefined): { method: string; index: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const [method, index] = value.split('#');
  return { method: method!, index: Number(index) };
}

describe('fuzz: every RPC of every service', function () {
  // A long run (FUZZ_CALLS=20000) takes longer than the CI size: about 30 ms per call on a busy machine, with room.
  this.timeout(Math.max(600_000, TOTAL_CALLS * 100));
  let cluster: TestCluster;
  let client: DfsClient;
  let world: FuzzWorld;
  let reference: ReferenceFile[];
  let targets: FuzzTarget[];
  let clusterDirBefore: Map<string, number>;
  let passwdMtime: number;
  let storm: StormResult;

  before(async () => {
    console.log(`    fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED}), ${TOTAL_CALLS} calls`);
    cluster = await TestCluster.start({ masters: 3, chunkservers: 3 });
    client = await cluster.client();
    const built = await buildWorld(cluster, client);
    world = built.world;
    reference = built.reference;
    targets = [
      { label: `leader ${built.leader.id}`, address: built.leader.address, server: 'master' },
      { label: `follower ${built.follower.id}`, address: built.follower.address, server: 'master' },
      ...cluster.chunkservers().map((p) => ({ label: p.name, address: p.address, server: 'chunkserver' as const })),
    ];
    clusterDirBefore = await entriesOf(cluster.dir);
    passwdMtime = (await stat('/etc/passwd')).mtimeMs;
  });

  after(async function () {
    if (this.currentTest?.state === 'failed' || storm?.failures.length) cluster?.keep();
    await cluster?.stop();
  });

  it('answers every call before its deadline with success or a clear error', async () => {
    const methods = fuzzMethods();
    const perMethod = Math.max(1, Math.ceil(TOTAL_CALLS / methods.length));
    const started = Date.now();
    storm = await runStorm({
      seed: SEED,
      methods,
      callsPerMethod: () => perMethod,
      concurrency: CONCURRENCY,
      deadlineMs: CALL_DEADLINE_MS,
      world,
      limits: { master: LIMITS.metadataMessageMaxBytes, chunkserver: LIMITS.dataMessageMaxBytes },
      targets,
      credentials: (who) => cluster.channelCredentials(who),
      ...(ONLY ? { only: ONLY } : {}),
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`    ${storm.tally.total()} calls in ${seconds} s (seed ${SEED}), ${storm.guardedFrames} harmful frames replaced, ${storm.resentAfterDrop} calls resent after a dropped connection; per target: ${[...storm.perTarget].map(([t, n]) => `${t}=${n}`).join(', ')}`);
    console.log(storm.tally.format().replace(/^/gm, '    '));
    expect(storm.failures.length, `${storm.failures.length} calls without a clear answer:\n${describeFailures(storm)}`).to.equal(0);
    if (ONLY === undefined) for (const m of methods) expect(storm.tally.callsOf(m.fullName), m.fullName).to.be.at.least(perMethod);
  });

  it('leaves every process alive and the cluster healthy', async () => {
    for (const p of [...cluster.masters.map((_, i) => cluster.process(`master-${i}`)), ...cluster.chunkservers()]) {
      expect(isAlive(p.pid), `${p.name} (pid ${p.pid}) is alive\n${cluster.logTail(p.name)}`).to.equal(true);
    }
    // Re-replication and the garbage collector may still be tidying what the storm left (phantom servers, orphan replicas).
    await waitFor('a healthy cluster', async () => {
      const h = await client.clusterHealth();
      const ok = h.liveChunkservers === 3 && h.missingChunks === '0' && h.underReplicatedChunks === '0' && h.acceptingLeases;
      return ok ? h : undefined;
    }, 60_000);
    const fsck = await client.fsck('/keep');
    const s = fsck.summary!;
    expect({ missing: s.missing, under: s.underReplicated, unavailable: s.unavailable, corrupt: s.corruptReplicas }).to.deep.equal({ missing: '0', under: '0', unavailable: '0', corrupt: '0' });
    expect(s.healthy).to.equal(s.chunks);
  });

  it('reads the reference files back byte for byte, and writes and reads a new file', async () => {
    for (const f of reference) expect((await client.readFile(f.path)).equals(f.bytes), f.path).to.equal(true);
    const fresh = randomBytes(cluster.chunkSizeBytes + 12345);
    await client.writeFile('/after-the-storm', fresh);
    expect((await client.readFile('/after-the-storm')).equals(fresh)).to.equal(true);
    await client.append('/keep/appended', Buffer.from('third record\n'));
  });

  it('made nothing outside the servers data', async () => {
    const after = await entriesOf(cluster.dir);
    const added = [...after.keys()].filter((n) => !clusterDirBefore.has(n));
    expect(added, `new entries in ${cluster.dir}`).to.deep.equal([]);
    expect((await stat('/etc/passwd')).mtimeMs).to.equal(passwdMtime);
    expect(await findEscapes([cluster.dir], 8)).to.deep.equal([]);
    expect(await findEscapes([dirname(cluster.dir), '/etc'], 2)).to.deep.equal([]);
  });
});

/** The failures grouped by what went wrong, with up to three cases of each to rerun. */
function describeFailures(storm: StormResult): string {
  const groups = new Map<string, StormResult['failures']>();
  for (const f of storm.failures) {
    const key = f.problem.slice(0, 120);
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([problem, fs]) => {
      const cases = fs.slice(0, 3).map((f) => `      ${f.method}#${f.index} on ${f.target} as ${f.identity} (${f.kind})\n        ${f.reproduce}${ONLY ? `\n${f.sent.replace(/^/gm, '        ')}` : ''}`);
      return `  ${fs.length} x ${problem}\n${cases.join('\n')}`;
    })
    .join('\n');
}
