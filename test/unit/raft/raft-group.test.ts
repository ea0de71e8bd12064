import type * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsError, isDfsError } from '../../../common/errors.js';
import { startGrpcServer, stopGrpcServer } from '../../../common/grpc-server.js';
import { silentLogger } from '../../../common/logger.js';
import { nodeId } from '../../../raft/core/types.js';
import { RaftGroup } from '../../../raft/node/raft-group.js';
import type { AppliedEntry, StateMachine } from '../../../raft/node/state-machine.js';
import { LevelDbStorage } from '../../../raft/storage/leveldb-storage.js';
import { GrpcTransport } from '../../../raft/transport/grpc-transport.js';
import { TRANSPORT_LIMITS } from '../../../raft/transport/limits.js';
import { PLAINTEXT } from '../../../security/transport-security.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The application under test: an append-only list of strings. apply() answers "<index>:<value>". */
class ListMachine implements StateMachine<string> {
  items: string[] = [];
  restores = 0;

  apply(entry: AppliedEntry): string {
    const value = dec.decode(entry.data);
    this.items.push(value);
    return `${entry.index}:${value}`;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.items));
  }

  restore(data: Uint8Array): void {
    this.items = JSON.parse(dec.decode(data)) as string[];
    this.restores++;
  }
}

interface Member {
  id: string;
  dir: string;
  port: number;
  server: grpc.Server;
  group: RaftGroup<string>;
  sm: ListMachine;
  running: boolean;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function rejection(p: Promise<unknown>): Promise<DfsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DfsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('RaftGroup over gRPC and LevelDB', function () {
  this.timeout(60_000);
  const members = new Map<string, Member>();
  const dirs: string[] = [];

  async function listen(id: string, port: number): Promise<{ server: grpc.Server; port: number; transport: GrpcTransport }> {
    const transport = new GrpcTransport({ id: nodeId(id), logger: silentLogger });
    const started = await startGrpcServer((s) => transport.register(s), {
      host: '127.0.0.1',
      port,
      maxMessageBytes: TRANSPORT_LIMITS.grpcMessageBytes,
      largeWindow: false, security: PLAINTEXT,
    });
    return { server: started.server, port: started.port, transport };
  }

  async function launch(id: string, dir: string, bootstrap?: Array<{ id: string; address: string }>, port = 0): Promise<Member> {
    const net = await listen(id, port);
    const sm = new ListMachine();
    const group = new RaftGroup<string>({
      id,
      address: `127.0.0.1:${net.port}`,
      storage: await LevelDbStorage.open(dir),
      transport: net.transport,
      stateMachine: sm,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      // Short enough to keep the test quick, long enough to ride out a loaded CI machine.
      tickIntervalMs: 20,
      electionTicks: 25,
      heartbeatTicks: 3,
      snapshotEveryEntries: 20,
      compactionRetainEntries: 2,
      requestTimeoutTicks: 250,
    });
    await group.start();
    const m: Member = { id, dir, port: net.port, server: net.server, group, sm, running: true };
    members.set(id, m);
    return m;
  }

  async function halt(m: Member): Promise<void> {
    if (!m.running) return;
    m.running = false;
    await m.group.stop();
    await stopGrpcServer(m.server, 200);
  }

  async function newDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'raft-group-'));
    dirs.push(dir);
    return dir;
  }

  /** Three members bootstrapped together: their ports are bound first so that the bootstrap list has every address. */
  async function startCluster(): Promise<Member[]> {
    const ids = ['m1', 'm2', 'm3'];
    const nets = await Promise.all(ids.map((id) => listen(id, 0)));
    const ports = nets.map((n) => n.port);
    await Promise.all(nets.map((n) => stopGrpcServer(n.server, 100)));
    const bootstrap = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]}` }));
    const out: Member[] = [];
    for (let i = 0; i < ids.length; i++) out.push(await launch(ids[i]!, await newDir(), bootstrap, ports[i]));
    return out;
  }

  function leaderOf(ms: Iterable<Member>): Member | undefined {
    for (const m of ms) if (m.running && m.group.status().role === 'leader') return m;
    return undefined;
  }

  afterEach(async () => {
    for (const m of members.values()) await halt(m);
    members.clear();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('elects a leader, commits, fails over, and brings a restarted member back by snapshot', async () => {
    const cluster = await startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    expect(await leader.group.propose(enc.encode('a'))).to.match(/^\d+:a$/);

    const follower = cluster.find((m) => m !== leader)!;
    const refused = await rejection(follower.group.propose(enc.encode('x')));
    expect(refused.code).to.equal('NOT_LEADER');
    expect(refused.details.leaderHint).to.equal(`127.0.0.1:${leader.port}`);

    // A linearizable read on a follower sees the committed write.
    await follower.group.readIndex();
    expect(follower.sm.items).to.deep.equal(['a']);

    // The leader dies; the other two elect a new one, which commits.
    await halt(leader);
    const rest = cluster.filter((m) => m !== leader);
    const second = await waitFor('a new leader', () => leaderOf(rest));
    expect(await second.group.propose(enc.encode('b'))).to.match(/^\d+:b$/);

    // Enough writes that the old leader's log position is compacted away.
    for (let i = 0; i < 45; i++) await second.group.propose(enc.encode(`w${i}`));
    const status = second.group.status();
    expect(status.applied).to.be.greaterThan(45);

    // The old leader restarts from its LevelDB directory and must be caught up by snapshot.
    const back = await launch(leader.id, leader.dir, undefined, leader.port);
    await waitFor('the restarted member to catch up', () => back.group.status().applied >= second.group.status().applied);
    expect(back.sm.items).to.deep.equal(second.sm.items);
    expect(back.sm.restores).to.be.greaterThan(0);
    expect(back.sm.items.slice(0, 2)).to.deep.equal(['a', 'b']);

    const view = second.group.status();
    expect(view.members.map((m) => [m.id, m.role, m.address])).to.deep.equal(
      cluster.map((m) => [m.id, 'voter', `127.0.0.1:${m.port}`]),
    );
  });

  it('adds a member as a learner, promotes it, transfers leadership to it and removes a member', async () => {
    const cluster = await startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    for (let i = 0; i < 5; i++) await leader.group.propose(enc.encode(`v${i}`));
    const m4 = await launch('m4', await newDir());
    await leader.group.addMember('m4', `127.0.0.1:${m4.port}`);
    expect(leader.group.status().members.find((m) => m.id === 'm4')?.role).to.equal('voter');
    await waitFor('m4 to apply the log', () => m4.sm.items.length === 5);

    // A transfer is best effort (it is abandoned after an election timeout): an operator retries.
    for (let attempt = 1; ; attempt++) {
      try {
        await leader.group.transferLeadership('m4');
        break;
      } catch (err) {
        if (!isDfsError(err, 'TIMEOUT') || attempt === 3) throw err;
      }
    }
    await waitFor('m4 to lead', () => m4.group.status().role === 'leader');
    expect(await m4.group.propose(enc.encode('from-m4'))).to.match(/from-m4$/);

    await m4.group.removeMember(leader.id);
    await waitFor('the membership without the old leader', () => m4.group.status().members.length === 3 || undefined);
    expect(m4.group.status().members.map((m) => m.id)).to.not.include(leader.id);
  });

  it('a read whose leader dies before confirming it fails with a typed error instead of hanging', async () => {
    const cluster = await startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    await leader.group.propose(enc.encode('a'));
    const follower = cluster.find((m) => m !== leader)!;
    await halt(leader);
    const err = await rejection(follower.group.readIndex());
    expect(err.code).to.be.oneOf(['NOT_LEADER', 'TIMEOUT']);
    // Once the member knows the new leader, reads work again.
    const next = await waitFor('a new leader', () => leaderOf(cluster.filter((m) => m !== leader)));
    await waitFor('the follower to know the new leader', () => follower.group.status().leader?.id === next.id);
    await follower.group.readIndex();
    expect(follower.sm.items).to.deep.equal(['a']);
  });

  it('writes once per entry: a commit alone rides with the next write, and stop() writes the last one', async () => {
    const dir = await newDir();
    const net = await listen('solo', 0);
    const storage = await LevelDbStorage.open(dir);
    const save = storage.save.bind(storage);
    const writes: { entries: number; commit: number | undefined }[] = [];
    storage.save = (update, sync) => {
      writes.push({ entries: update.entries.length, commit: update.hardState?.commit });
      return save(update, sync);
    };
    const group = new RaftGroup<string>({
      id: 'solo',
      address: `127.0.0.1:${net.port}`,
      storage,
      transport: net.transport,
      stateMachine: new ListMachine(),
      bootstrap: [{ id: 'solo', address: `127.0.0.1:${net.port}` }],
      tickIntervalMs: 20,
      electionTicks: 5,
      heartbeatTicks: 1,
    });
    await group.start();
    try {
      await waitFor('leadership', () => group.status().role === 'leader');
      await group.propose(enc.encode('first'));
      const before = writes.length;
      for (const v of ['a', 'b', 'c', 'd']) expect(await group.propose(enc.encode(v))).to.match(new RegExp(`:${v}$`));
      const during = writes.slice(before);
      expect(during.map((w) => w.entries), 'writes for 4 proposals one after another').to.deep.equal([1, 1, 1, 1]);
      // Each write carries the commit of the entry before it.
      const { commit, applied } = group.status();
      expect(applied).to.equal(commit);
      expect(during.map((w) => w.commit)).to.deep.equal([commit - 4, commit - 3, commit - 2, commit - 1]);
    } finally {
      await group.stop();
      await stopGrpcServer(net.server, 200);
    }
    const reopened = await LevelDbStorage.open(dir);
    try {
      expect(reopened.initialState().hardState.commit).to.equal(reopened.lastIndex());
    } finally {
      await reopened.close();
    }
  });

  it('refuses proposals beyond its queue with OVERLOADED and everything after stop() with UNAVAILABLE', async () => {
    const dir = await newDir();
    const net = await listen('solo', 0);
    const group = new RaftGroup<string>({
      id: 'solo',
      address: `127.0.0.1:${net.port}`,
      storage: await LevelDbStorage.open(dir),
      transport: net.transport,
      stateMachine: new ListMachine(),
      bootstrap: [{ id: 'solo', address: `127.0.0.1:${net.port}` }],
      tickIntervalMs: 10,
      maxPendingProposals: 1,
    });
    await group.start();
    await waitFor('solo to lead', () => group.status().role === 'leader');
    const first = group.propose(enc.encode('one'));
    const second = await rejection(group.propose(enc.encode('two')));
    expect(second.code).to.equal('OVERLOADED');
    expect(await first).to.match(/one$/);
    await group.stop();
    await stopGrpcServer(net.server, 100);
    const late = await rejection(group.propose(enc.encode('late')));
    expect(isDfsError(late, 'UNAVAILABLE')).to.equal(true);
  });
});
