import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DfsError, type DfsClient } from '../../client-lib/index.js';
import { launch, terminate } from '../../cli/process-launcher.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';
import { rawClients } from '../harness/raw-clients.js';

const MiB = 1024 * 1024;
const RAFT_ARGS = ['--raft-tick-ms', '50', '--raft-election-ticks', '10'];

interface Done {
  startedMs: number;
  endedMs: number;
}

/**
 * Clients that create files and append records without pause, remembering
 * every operation that was acknowledged and when.
 */
class Workload {
  readonly created: (Done & { path: string })[] = [];
  readonly appended: (Done & { record: string; offset: number })[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];
  errors: unknown[] = [];

  constructor(creators: DfsClient[], appenders: DfsClient[]) {
    creators.forEach((client, c) => this.loops.push(this.createLoop(client, c)));
    appenders.forEach((client, a) => this.loops.push(this.appendLoop(client, a)));
  }

  private async createLoop(client: DfsClient, c: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const path = `/work/c${c}-${n}`;
      const startedMs = performance.now();
      try {
        await client.create(path, { exclusive: true });
        this.created.push({ path, startedMs, endedMs: performance.now() });
      } catch (err) {
        this.failed(err);
      }
    }
  }

  private async appendLoop(client: DfsClient, a: number): Promise<void> {
    const file = await client.open('/work/log');
    for (let n = 0; this.running; n++) {
      const record = `a${a}-${n};`;
      const startedMs = performance.now();
      try {
        const offset = await file.append(Buffer.from(record));
        this.appended.push({ record, offset, startedMs, endedMs: performance.now() });
      } catch (err) {
        this.failed(err);
      }
    }
  }

  /** An operation that gave up after the client's retries: the window was too long, or worse. */
  private failed(err: unknown): void {
    this.errors.push(err);
  }

  /** When both kinds of operation that began after `sinceMs` have succeeded again. */
  recoveredAt(sinceMs: number): number | undefined {
    const create = this.created.find((d) => d.startedMs >= sinceMs);
    const append = this.appended.find((d) => d.startedMs >= sinceMs);
    return create === undefined || append === undefined ? undefined : Math.max(create.endedMs, append.endedMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('masters as a Raft group of three', function () {
  this.timeout(600_000);
  let cluster: TestCluster;
  let admin: DfsClient;

  before(async () => {
    cluster = await TestCluster.start({
      masters: 3,
      chunkservers: 3,
      chunkSizeBytes: 64 * MiB,
      masterArgs: [...FAST_MASTER_ARGS, ...RAFT_ARGS, '--snapshot-every-entries', '200', '--log-level', 'info'],
    });
    admin = await cluster.client();
    await admin.mkdir('/work');
    await admin.create('/work/log');
  });
  after(async () => cluster?.stop());

  /** The leader's name, once there is one that every member agrees on. */
  async function leaderName(): Promise<string> {
    return waitFor('a leader', async () => {
      const status = await admin.raftStatus();
      return status.leaderId === '' ? undefined : status.leaderId;
    });
  }

  /** The leader's own view of the group (any master answers for itself only). */
  async function leaderStatus() {
    const status = await admin.raftStatus();
    if (status.role === 'leader' || status.leaderAddress === '') return status;
    const raw = rawClients(status.leaderAddress, cluster);
    try {
      return await callUnary(raw.admin(), 'RaftStatus', {}, 5_000);
    } finally {
      raw.close();
    }
  }

  /** Waits until every voter has caught up with the leader's commit index. */
  async function groupHealthy(voters: number): Promise<void> {
    await waitFor('every master caught up', async () => {
      const status = await leaderStatus();
      if (status.role !== 'leader') return undefined;
      const members = status.members.filter((m) => m.role === 'voter');
      const commit = Number(status.commit);
      return members.length === voters && members.every((m) => Number(m.match) >= commit - 5) ? true : undefined;
    }, 30_000);
  }

  it('SIGKILL the leader 20 times while clients create and append: nothing acknowledged is lost', async () => {
    const creators = await Promise.all([cluster.client({ retry: { deadlineMs: 20_000 } }), cluster.client({ retry: { deadlineMs: 20_000 } })]);
    const appenders = await Promise.all([cluster.client({ retry: { deadlineMs: 20_000 } }), cluster.client({ retry: { deadlineMs: 20_000 } })]);
    const workload = new Workload(creators, appenders);
    const windows: number[] = [];
    try {
      for (let kill = 0; kill < 20; kill++) {
        await groupHealthy(3);
        await waitFor('the workload running', () => (workload.recoveredAt(performance.now() - 300) !== undefined ? true : undefined));
        const victim = await leaderName();
        const killedAt = performance.now();
        cluster.kill(victim);
        const recovered = await waitFor('the workload recovering', () => workload.recoveredAt(killedAt), 30_000);
        windows.push(recovered - killedAt);
        await cluster.restart();
      }
    } finally {
      await workload.stop();
    }
    const summary = {
      kills: windows.length,
      windowsMs: windows.map((w) => Math.round(w)),
      p50Ms: Math.round(percentile(windows, 50)),
      p99Ms: Math.round(percentile(windows, 99)),
      maxMs: Math.round(Math.max(...windows)),
      creates: workload.created.length,
      appends: workload.appended.length,
    };
    console.log(`      failover: ${JSON.stringify(summary)}`);
    expect(workload.errors.map((e) => (e as DfsError).code ?? String(e)), 'operations that gave up').to.deep.equal([]);

    // Everything acknowledged is there, once.
    const reader = await cluster.client();
    const names = new Set((await reader.list('/work')).map((e) => e.name));
    for (const c of workload.created) expect(names.has(c.path.slice('/work/'.length)), c.path).to.equal(true);
    const log = (await reader.readFile('/work/log')).toString();
    for (const a of workload.appended) {
      expect(log.slice(a.offset, a.offset + a.record.length), `record ${a.record}`).to.equal(a.record);
      expect(log.split(a.record).length - 1, `record ${a.record} appears once`).to.equal(1);
    }
    expect(summary.p99Ms, 'p99 unavailability').to.be.below(3_000);
  });

  it('replaces a master while clients write: the new one catches up from a snapshot', async () => {
    const writer = await cluster.client();
    let running = true;
    let written = 0;
    const writing = (async () => {
      for (let n = 0; running; n++) {
        await writer.create(`/work/m${n}`, { exclusive: true });
        written = n + 1;
      }
    })();
    try {
      await groupHealthy(3);
      // Remove a follower and stop it.
      const leader = await leaderName();
      const gone = ['master-0', 'master-1', 'master-2'].find((m) => m !== leader)!;
      await admin.removeMaster(gone);
      await terminate(cluster.process(gone).pid);
      await waitFor('writes going on with two masters', () => (written > 300 ? true : undefined), 30_000);

      // A new master joins; by now the log has been compacted past its start.
      const dataDir = join(cluster.dir, 'master-new');
      const joining = await launch({
        role: 'master',
        args: ['--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--raft-id', 'master-new', '--join', ...FAST_MASTER_ARGS, ...RAFT_ARGS, ...cluster.securityArgs('master'), '--log-level', 'info'],
        readyFile: join(cluster.dir, 'master-new.ready'),
        logFile: join(cluster.dir, 'master-new.log'),
        detached: false,
      });
      try {
        await admin.addMaster(joining.address);
        const status = await leaderStatus();
        expect(status.members.map((m) => `${m.id}:${m.role}`).sort()).to.include('master-new:voter');
        expect(status.members.map((m) => m.id)).to.not.include(gone);
        const log = await readFile(joining.logFile, 'utf8');
        expect(log, 'the new master was brought up to date by a snapshot').to.include('raft: restored a snapshot');

        // It holds the whole namespace: make it the leader and read through it.
        await admin.transferLeadership('master-new');
        const fresh = await cluster.client({ retry: { deadlineMs: 20_000 } });
        const entries = await fresh.list('/work');
        expect(entries.length).to.be.at.least(written - 1);
      } finally {
        running = false;
        await writing;
        await terminate(joining.pid);
      }
    } finally {
      running = false;
      await writing.catch(() => undefined);
    }
  });
});
