import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ClusterProcess } from '../../cli/cluster-file.js';
import { launch, terminate } from '../../cli/process-launcher.js';
import type { DfsClient } from '../../client-lib/index.js';
import { isDfsError } from '../../common/errors.js';
import { scrape, total, type Exposition } from '../harness/prometheus-text.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

type Role = 'master' | 'chunkserver' | 'mount';

interface DocumentedMetric {
  name: string;
  type: string;
  roles: Role[];
}

/** The rows of README's "Metrics" table: | `name` | type | labels | processes | meaning |. */
async function documentedMetrics(): Promise<DocumentedMetric[]> {
  const text = await readFile(README, 'utf8');
  const section = text.split(/^## Metrics$/m)[1]?.split(/^## /m)[0];
  if (section === undefined) throw new Error('README has no "## Metrics" section');
  const rows: DocumentedMetric[] = [];
  for (const line of section.split('\n')) {
    const cells = /^\| `(dfs_[a-z0-9_]+)` \|([^|]*)\|[^|]*\|([^|]*)\|/.exec(line);
    if (!cells) continue;
    const roles = cells[3]!.split(',').map((r) => r.trim()) as Role[];
    for (const role of roles) expect(['master', 'chunkserver', 'mount'], `process of ${cells[1]} in README`).to.include(role);
    rows.push({ name: cells[1]!, type: cells[2]!.trim(), roles });
  }
  return rows;
}

function hostOf(p: ClusterProcess): string {
  return p.address.slice(0, p.address.lastIndexOf(':'));
}

function scrapeProcess(p: ClusterProcess): Promise<Exposition> {
  if (p.httpPort === undefined) throw new Error(`${p.name} serves no HTTP`);
  return scrape(hostOf(p), p.httpPort);
}

/** The README table and what a process of `role` exports must be the same set of dfs_ metrics, with the same types. */
function expectDocumented(documented: DocumentedMetric[], role: Role, exposition: Exposition): void {
  const expected = documented.filter((m) => m.roles.includes(role));
  const missing = expected.filter((m) => !exposition.types.has(m.name)).map((m) => m.name);
  expect(missing, `documented for ${role} but not exported`).to.deep.equal([]);
  for (const m of expected) expect(exposition.types.get(m.name), `type of ${m.name}`).to.equal(m.type);
  const names = new Set(expected.map((m) => m.name));
  const undocumented = [...exposition.types.keys()].filter((name) => name.startsWith('dfs_') && !names.has(name));
  expect(undocumented, `exported by ${role} but not in README's Metrics table`).to.deep.equal([]);
  // Node's own process metrics come along.
  expect(exposition.types.get('process_cpu_seconds_total')).to.equal('counter');
}

/**
 * /metrics of real processes over HTTP: README's Metrics table is exactly
 * what masters, chunkservers and a mount export, and the values move as
 * the writes and reads a client makes say they must.
 */
describe('metrics: /metrics on masters, chunkservers and a mount', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let client: DfsClient;
  let documented: DocumentedMetric[];

  before(async () => {
    documented = await documentedMetrics();
    cluster = await TestCluster.start({ masters: 3, chunkservers: 3, chunkSizeBytes: MiB });
    client = await cluster.client();
  });

  after(async () => {
    await cluster?.stop();
  });

  const masters = () => [0, 1, 2].map((i) => cluster.process(`master-${i}`));
  const chunkservers = () => cluster.chunkservers();

  async function leaderExposition(): Promise<Exposition> {
    return waitFor('exactly one master with dfs_raft_is_leader 1', async () => {
      const all = await Promise.all(masters().map(scrapeProcess));
      const leaders = all.filter((e) => total(e, 'dfs_raft_is_leader') === 1);
      for (const e of all) expect(total(e, 'dfs_raft_term')).to.be.at.least(1);
      return leaders.length === 1 ? leaders[0] : undefined;
    });
  }

  it('README lists metrics for every process type, each once', () => {
    const names = documented.map((m) => m.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const role of ['master', 'chunkserver', 'mount'] as const) expect(documented.some((m) => m.roles.includes(role)), role).to.equal(true);
  });

  it('masters and chunkservers export what README lists, and the counters follow a write and a read', async () => {
    const data = randomBytes(3 * MiB + 12_345);
    const leaderBefore = await leaderExposition();
    const serversBefore = await Promise.all(chunkservers().map(scrapeProcess));

    await client.writeFile('/metrics-file', data);
    expect((await client.readFile('/metrics-file')).equals(data)).to.equal(true);
    // A lone Stat (a batched one answers NOT_FOUND inside a successful ReadBatch).
    const unbatched = await cluster.client({ metadataBatching: false });
    const missing = await unbatched.stat('/no-such-file').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isDfsError(missing, 'NOT_FOUND'), String(missing)).to.equal(true);

    const leader = await leaderExposition();
    expectDocumented(documented, 'master', leader);
    for (const follower of await Promise.all(masters().map(scrapeProcess))) expectDocumented(documented, 'master', follower);

    const metadata = { service: 'dfs.master.Metadata' };
    expect(total(leader, 'dfs_grpc_server_handled_total', metadata)).to.be.greaterThan(total(leaderBefore, 'dfs_grpc_server_handled_total', metadata));
    expect(total(leader, 'dfs_grpc_server_errors_total', { ...metadata, dfs_code: 'NOT_FOUND' })).to.be.at.least(1);
    expect(total(leader, 'dfs_grpc_server_handling_seconds_count', metadata)).to.equal(total(leader, 'dfs_grpc_server_handled_total', metadata));
    expect(total(leader, 'dfs_raft_proposals_total')).to.be.greaterThan(total(leaderBefore, 'dfs_raft_proposals_total'));
    expect(total(leader, 'dfs_raft_entries_applied_total')).to.be.at.least(1);
    expect(total(leader, 'dfs_raft_applied_index')).to.be.at.most(total(leader, 'dfs_raft_commit_index'));
    expect(total(leader, 'dfs_raft_members')).to.equal(3);
    expect(total(leader, 'dfs_master_files')).to.be.at.least(1);
    expect(total(leader, 'dfs_master_chunks')).to.be.at.least(4);
    expect(total(leader, 'dfs_master_chunkservers', { state: 'live' })).to.equal(3);
    expect(total(leader, 'dfs_master_chunkservers', { state: 'dead' })).to.equal(0);
    expect(total(leader, 'dfs_master_chunks_missing')).to.equal(0);

    const servers = await Promise.all(chunkservers().map(scrapeProcess));
    for (const e of servers) expectDocumented(documented, 'chunkserver', e);
    const sum = (all: Exposition[], name: string, where: Record<string, string> = {}) => all.reduce((n, e) => n + total(e, name, where), 0);
    const written = sum(servers, 'dfs_chunkserver_written_bytes_total', { purpose: 'pipeline' }) - sum(serversBefore, 'dfs_chunkserver_written_bytes_total', { purpose: 'pipeline' });
    expect(written, 'bytes written on chunkservers').to.be.at.least(data.length * 3);
    const read = sum(servers, 'dfs_chunkserver_read_bytes_total', { purpose: 'client' }) - sum(serversBefore, 'dfs_chunkserver_read_bytes_total', { purpose: 'client' });
    expect(read, 'bytes read from chunkservers').to.be.at.least(data.length);
    expect(sum(servers, 'dfs_chunkserver_fsyncs_total')).to.be.greaterThan(sum(serversBefore, 'dfs_chunkserver_fsyncs_total'));
    expect(sum(servers, 'dfs_chunkserver_replicas')).to.be.at.least(4 * 3);
    expect(sum(servers, 'dfs_chunkserver_stored_bytes')).to.be.at.least(data.length * 3);
    for (const e of servers) expect(total(e, 'dfs_chunkserver_capacity_bytes')).to.be.greaterThan(0);
    expect(sum(servers, 'dfs_chunkserver_checksum_failures_total')).to.equal(0);
    const writes = { service: 'dfs.chunk.ChunkData', method: 'Write', code: 'OK' };
    expect(sum(servers, 'dfs_grpc_server_handled_total', writes)).to.be.greaterThan(sum(serversBefore, 'dfs_grpc_server_handled_total', writes));
    // Pipeline streams stay open while the lease lasts; the version steps of each new lease are done.
    const grants = { service: 'dfs.chunk.ChunkControl', method: 'GrantLease', code: 'OK' };
    expect(sum(servers, 'dfs_grpc_server_handled_total', grants)).to.be.at.least(4);
    const prepares = { service: 'dfs.chunk.ChunkReplication', method: 'PrepareVersion', code: 'OK' };
    expect(sum(servers, 'dfs_grpc_server_handled_total', prepares)).to.be.at.least(4 * 2);
  });

  it('a mount started with --metrics-port exports what README lists, counting its reads and writes', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const base = await mkdtemp(join(tmpdir(), 'dfs-metrics-mount-'));
    const dir = join(base, 'mnt');
    await mkdir(dir);
    let pid: number | undefined;
    try {
      const launched = await launch({
        role: 'mount',
        args: [dir, '--masters', cluster.masters.join(','), ...cluster.securityArgs('mount'), '--metrics-port', '0'],
        readyFile: join(base, 'ready.json'),
        logFile: join(base, 'mount.log'),
        detached: false,
        readyTimeoutMs: 30_000,
      });
      pid = launched.pid;
      expect(launched.httpPort, 'httpPort in the ready file').to.be.a('number');
      const data = randomBytes(MiB + 777);
      await writeFile(join(dir, 'through-the-mount'), data);
      // Written by the client library, so no page cache of this node holds it: every byte comes through the mount.
      const other = randomBytes(2 * MiB + 99);
      await client.writeFile('/written-elsewhere', other);
      expect((await readFile(join(dir, 'written-elsewhere'))).equals(other)).to.equal(true);
      const absent = await stat(join(dir, 'absent')).catch((err: NodeJS.ErrnoException) => err.code);
      expect(absent).to.equal('ENOENT');

      const mount = await scrape('127.0.0.1', launched.httpPort!);
      expectDocumented(documented, 'mount', mount);
      expect(total(mount, 'dfs_mount_written_bytes_total')).to.equal(data.length);
      expect(total(mount, 'dfs_mount_read_bytes_total')).to.be.at.least(other.length);
      expect(total(mount, 'dfs_mount_operations_total', { operation: 'write', result: 'ok' })).to.be.at.least(1);
      expect(total(mount, 'dfs_mount_operations_total', { operation: 'lookup', result: 'ENOENT' })).to.be.at.least(1);
      expect(total(mount, 'dfs_mount_operation_duration_seconds_count', { operation: 'create' })).to.equal(1);
    } finally {
      if (pid !== undefined) await terminate(pid, 10_000);
      await run('umount', ['-l', dir]).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    }
  });
});
