import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { lineageToWire } from '../../chunkserver/read-wire.js';
import { NO_OVERWRITE } from '../../chunkserver/lineage.js';
import type { DfsClient } from '../../client-lib/index.js';
import { crc32c } from '../../common/crc32c.js';
import { isDfsError } from '../../common/errors.js';
import { fromGrpcError } from '../../common/grpc-errors.js';
import { chunkHandle, chunkVersion } from '../../common/ids.js';
import { chunkserverServices } from '../../proto/load.js';
import type { ServerRef } from '../../proto/generated/dfs/ServerRef.js';
import type { ReadRequest__Output } from '../../proto/generated/dfs/chunk/ReadRequest.js';
import type { ReadResponse, ReadResponse__Output } from '../../proto/generated/dfs/chunk/ReadResponse.js';
import type { DistributionTask } from '../../proto/generated/dfs/chunk/DistributionTask.js';
import { scrape, total } from '../harness/prometheus-text.js';
import { rawClients } from '../harness/raw-clients.js';
import { loadCredentials } from '../../security/credentials-dir.js';
import { serverCredentials } from '../../security/transport-security.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 8 * MiB;

/**
 * The master only grants and records here: no re-replication, trimming,
 * garbage collection or distribution planning may touch the replicas the test
 * makes. Intervals alone do not keep the distribution planner idle (making a
 * file `all` and giving up a lease run a round at once), but a new leader
 * plans nothing until one chunkserver timeout has passed, so that timeout is
 * longer than the suite. Nothing here needs the master to notice a death.
 */
const MASTER_ARGS = [
  '--lease-duration-ms', '1000',
  '--heartbeat-interval-ms', '300',
  '--chunkserver-timeout-ms', '600000',
  '--replication-interval-ms', '600000',
  '--gc-interval-ms', '600000',
  '--log-level', 'debug',
];

interface Chunk {
  handle: number;
  version: number;
  holder: string;
}

/**
 * The chunkserver's side of distribution on real processes, driven with raw
 * Distribute calls (the master's planner is idle): a chain whose middle is
 * still receiving (cut-through), a middle killed mid-stream (the child
 * resumes from a fallback at its offset), deltas after an append and after a
 * write below the old length, and a source sending a corrupt frame.
 */
describe('distribution agent: cut-through chains, resumed and delta fetches (4 chunkservers, 8 MiB chunks)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: DfsClient;
  const closers: (() => void)[] = [];

  before(async () => {
    cluster = await TestCluster.start({
      chunkservers: 4,
      chunkSizeBytes: CHUNK,
      masterArgs: MASTER_ARGS,
      chunkserverArgs: ['--scrub-interval-ms', '0', '--log-level', 'debug'],
    });
    client = await cluster.client();
  });

  after(async () => {
    for (const close of closers.splice(0)) close();
    await cluster?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      cluster.keep();
      for (const cs of cluster.chunkservers()) console.error(`--- ${cs.name}\n${cluster.logTail(cs.name, 20)}`);
    }
  });

  const names = () => cluster.chunkservers().map((c) => c.name);

  async function ref(name: string): Promise<ServerRef> {
    const p = cluster.process(name);
    return { id: await cluster.serverId(name), address: p.address, zone: p.zone, rack: p.rack };
  }

  function raw(name: string) {
    const clients = rawClients(cluster.process(name).address, cluster);
    closers.push(clients.close);
    return clients;
  }

  /** The file's only chunk, and the one server holding it (files here have one replica). */
  async function chunkOf(path: string): Promise<Chunk> {
    const byId = new Map<string, string>();
    for (const name of names()) byId.set(await cluster.serverId(name), name);
    const file = await client.open(path);
    const chunk = await (file as unknown as { chunk(i: number, allocate: boolean): Promise<{ handle: number; version: number; replicas: { id: string }[] }> }).chunk(0, false);
    await file.close();
    expect(chunk.replicas).to.have.length(1);
    return { handle: chunk.handle, version: chunk.version, holder: byId.get(chunk.replicas[0]!.id)! };
  }

  async function distribute(name: string, tasks: DistributionTask[], cancel: string[] = []): Promise<void> {
    const control = raw(name).control();
    await new Promise<void>((resolve, reject) => control.Distribute({ tasks, cancel }, (err) => (err ? reject(fromGrpcError(err)) : resolve())));
  }

  function task(chunk: Chunk, sources: ServerRef[]): DistributionTask {
    return { handle: String(chunk.handle), version: String(chunk.version), sources, order: '0' };
  }

  /** A client's Read of the whole chunk from one server: succeeds only once it offers the chunk at the version (every frame's CRC checked). */
  async function readChunk(name: string, chunk: Chunk): Promise<Buffer> {
    const call = raw(name).data().Read({ handle: String(chunk.handle), version: String(chunk.version), offset: '0', length: String(CHUNK) });
    const parts: Buffer[] = [];
    try {
      for await (const frame of call as AsyncIterable<ReadResponse__Output>) {
        expect(crc32c(frame.data)).to.equal(frame.dataCrc32c >>> 0);
        parts.push(frame.data);
      }
    } catch (err) {
      throw fromGrpcError(err);
    }
    return Buffer.concat(parts);
  }

  function held(name: string, chunk: Chunk): Promise<Buffer> {
    return waitFor(`${name} to hold chunk ${chunk.handle} v${chunk.version}`, () => readChunk(name, chunk), 30_000);
  }

  async function diskBytes(name: string, chunk: Chunk): Promise<Buffer> {
    return readFile(chunkPath(cluster.process(name).dataDir, chunkHandle(chunk.handle)));
  }

  async function metric(name: string, family: string, labels: Record<string, string> = {}): Promise<number> {
    return total(await scrape('127.0.0.1', cluster.process(name).httpPort!), family, labels);
  }

  const fetchedBytes = (name: string) => metric(name, 'dfs_chunkserver_distribution_fetched_bytes_total');
  const reusedBytes = (name: string) => metric(name, 'dfs_chunkserver_delta_reused_bytes_total');
  const copyOutBytes = (name: string) => metric(name, 'dfs_chunkserver_read_bytes_total', { purpose: 'copy' });
  const tasksIn = (name: string, state: string) => metric(name, 'dfs_chunkserver_distribution_tasks', { state });

  /** A mutation after this gets a new lease, so a new chunk version. */
  async function leasesLapsed(): Promise<void> {
    const master = cluster.process('master-0');
    await waitFor('every lease to lapse', async () => ((await total(await scrape('127.0.0.1', master.httpPort!), 'dfs_master_leases')) === 0 ? true : undefined));
  }

  /** A TCP relay to `target` that lets at most `bytesPerS` flow back: a slow link between one fetcher and its source. */
  async function slowLink(target: string, bytesPerS: number): Promise<string> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const sockets = new Set<Socket>();
    const server: Server = createServer((inbound) => {
      const outbound = createConnection({ host, port });
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => (inbound.destroy(), outbound.destroy()));
      }
      inbound.pipe(outbound);
      outbound.on('data', (data: Buffer) => {
        inbound.write(data);
        outbound.pause();
        setTimeout(() => outbound.resume(), (data.length / bytesPerS) * 1000);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.close();
      for (const s of sockets) s.destroy();
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return `127.0.0.1:${address.port}`;
  }

  async function oneReplicaFile(path: string, bytes: Buffer): Promise<Chunk> {
    await client.writeFile(path, bytes, { replication: 1 });
    return chunkOf(path);
  }

  it('a chain A -> B -> C: C follows B while B still receives, and every copy holds the same bytes', async () => {
    const data = randomBytes(6 * MiB + 12_345);
    const chunk = await oneReplicaFile('/chain', data);
    const [b, c] = names().filter((n) => n !== chunk.holder);
    const a = chunk.holder;
    const before = { aOut: await copyOutBytes(a), bOut: await copyOutBytes(b!), cFetched: await fetchedBytes(c!) };
    const slowA = { ...(await ref(a)), address: await slowLink(cluster.process(a).address, 6 * MiB) };
    await distribute(b!, [task(chunk, [slowA])]);
    await distribute(c!, [task(chunk, [await ref(b!), await ref(a)])]);

    let overlapped = false;
    await waitFor('C to hold the chunk', async () => {
      const cFetched = (await fetchedBytes(c!)) - before.cFetched;
      const bRunning = await tasksIn(b!, 'running');
      if (cFetched > 0 && bRunning === 1) overlapped = true;
      return (await tasksIn(c!, 'running')) === 0 && cFetched > 0 ? true : undefined;
    }, 30_000);
    expect(overlapped, 'C received bytes while B was still receiving').to.equal(true);

    for (const name of [b!, c!]) {
      expect((await held(name, chunk)).equals(data), `${name} serves the chunk's bytes`).to.equal(true);
      expect((await diskBytes(name, chunk)).equals(await diskBytes(a, chunk)), `${name}'s replica file`).to.equal(true);
    }
    // The origin sent the chunk once (to B); C got it from B.
    expect((await copyOutBytes(a)) - before.aOut).to.equal(data.length);
    expect((await copyOutBytes(b!)) - before.bOut).to.equal(data.length);
    expect((await fetchedBytes(c!)) - before.cFetched).to.equal(data.length);
  });

  it('deltas: after an append only the new bytes move, after a write below the old length everything from it does; bytes equal a full copy', async () => {
    const v1 = randomBytes(3 * MiB + 777);
    const chunk1 = await oneReplicaFile('/delta', v1);
    // On every node: only the durable tier (one replica) takes part in the next writes, the other copies go stale and stay as bases.
    await client.setAttributes('/delta', { replication: 'all' });
    const [x, y] = [chunk1.holder, names().find((n) => n !== chunk1.holder)!];
    const full = names().find((n) => n !== x && n !== y)!;
    await distribute(y, [task(chunk1, [await ref(x)])]);
    expect((await held(y, chunk1)).equals(v1)).to.equal(true);

    /** After a mutation: the one replica that took part in it, and the other copy, now stale. */
    const sides = (chunk: Chunk) => ({ holder: chunk.holder, target: chunk.holder === x ? y : x });

    // an append under a new lease: version 2
    await leasesLapsed();
    const appended = randomBytes(256 * KiB + 3);
    await client.write('/delta', v1.length, appended);
    const chunk2 = await chunkOf('/delta');
    expect(chunk2.version).to.be.greaterThan(chunk1.version);
    const step2 = sides(chunk2);
    let before = { fetched: await fetchedBytes(step2.target), reused: await reusedBytes(step2.target), out: await copyOutBytes(step2.holder) };
    await distribute(step2.target, [task(chunk2, [await ref(step2.holder)])]);
    const v2 = Buffer.concat([v1, appended]);
    expect((await held(step2.target, chunk2)).equals(v2)).to.equal(true);
    expect((await fetchedBytes(step2.target)) - before.fetched, 'bytes fetched for the append').to.equal(appended.length);
    expect((await reusedBytes(step2.target)) - before.reused, 'bytes kept').to.equal(v1.length);
    expect((await copyOutBytes(step2.holder)) - before.out, 'bytes the holder sent').to.equal(appended.length);

    // a write below the old length under a new lease: version 3; nothing from its offset on may be reused
    await leasesLapsed();
    const at = MiB + 5;
    const patch = randomBytes(1000);
    await client.write('/delta', at, patch);
    const chunk3 = await chunkOf('/delta');
    expect(chunk3.version).to.be.greaterThan(chunk2.version);
    const step3 = sides(chunk3);
    const v3 = Buffer.from(v2);
    patch.copy(v3, at);
    before = { fetched: await fetchedBytes(step3.target), reused: await reusedBytes(step3.target), out: await copyOutBytes(step3.holder) };
    await distribute(step3.target, [task(chunk3, [await ref(step3.holder)])]);
    expect((await held(step3.target, chunk3)).equals(v3)).to.equal(true);
    expect((await fetchedBytes(step3.target)) - before.fetched).to.equal(v3.length - at);
    expect((await reusedBytes(step3.target)) - before.reused).to.equal(at);

    // the same version copied whole to a server with no base: the same bytes on disk
    await distribute(full, [task(chunk3, [await ref(step3.holder)])]);
    expect((await held(full, chunk3)).equals(v3)).to.equal(true);
    const reference = await diskBytes(full, chunk3);
    expect(reference.equals(v3)).to.equal(true);
    expect((await diskBytes(step3.target, chunk3)).equals(reference)).to.equal(true);
    expect((await diskBytes(step3.holder, chunk3)).equals(reference)).to.equal(true);
    // The byte counts above hold only if the master sent no fetch of its own.
    expect(await total(await scrape('127.0.0.1', cluster.process('master-0').httpPort!), 'dfs_distribution_tasks_sent_total'), 'tasks the master planned').to.equal(0);
  });

  it('refuses a frame that fails its checksum: the task fails with that source alone, and completes from the next one', async () => {
    const data = randomBytes(2 * MiB + 99);
    const chunk = await oneReplicaFile('/corrupt', data);
    const a = chunk.holder;
    const target = names().filter((n) => n !== a)[0]!;
    // A source that sends the first 64 KiB right, then a frame whose bytes do not match its CRC.
    const services = chunkserverServices().dfs.chunk;
    // A source the others trust: it shows the chunkservers' certificate.
    const peerCredentials = serverCredentials({ kind: 'tls', credentials: await loadCredentials(cluster.credentialsDir('chunkserver')) });
    const fake = new grpc.Server();
    const first = data.subarray(0, 64 * KiB);
    const second = Buffer.from(data.subarray(64 * KiB, 128 * KiB));
    const secondCrc = crc32c(second);
    second[100] ^= 0xff;
    fake.addService(services.ChunkData.service, {
      Read: (call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>) => {
        const lineage = { entries: [{ version: chunkVersion(chunk.version), prefix: 0 }], overwrittenFrom: NO_OVERWRITE };
        call.write({ offset: '0', data: first, dataCrc32c: crc32c(first), version: String(chunk.version), chunkLength: String(data.length), ...lineageToWire(lineage), reuseLength: '0' });
        call.write({ offset: String(64 * KiB), data: second, dataCrc32c: secondCrc, version: String(chunk.version), chunkLength: String(data.length) });
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) => fake.bindAsync('127.0.0.1:0', peerCredentials, (err, p) => (err ? reject(err) : resolve(p))));
    closers.push(() => fake.forceShutdown());
    const fakeRef: ServerRef = { id: 'fake-source', address: `127.0.0.1:${port}`, zone: 'default', rack: 'default' };

    const before = await fetchedBytes(target);
    await distribute(target, [task(chunk, [fakeRef])]);
    await waitFor('the task to fail', async () => ((await tasksIn(target, 'failed')) === 1 ? true : undefined));
    const refused = await readChunk(target, chunk).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isDfsError(refused, 'NOT_FOUND'), String(refused)).to.equal(true);

    await distribute(target, [task(chunk, [fakeRef, await ref(a)])]);
    expect((await held(target, chunk)).equals(data)).to.equal(true);
    expect(await tasksIn(target, 'failed')).to.equal(0);
    expect((await diskBytes(target, chunk)).equals(await diskBytes(a, chunk))).to.equal(true);
    // Twice the good first frame from the fake, the rest from the holder: the bad frame was never kept.
    expect((await fetchedBytes(target)) - before).to.equal(data.length + 64 * KiB);
  });

  it('a middle node killed mid-stream: its child resumes from the fallback at its offset', async () => {
    const data = randomBytes(7 * MiB + 1);
    const chunk = await oneReplicaFile('/kill', data);
    const a = chunk.holder;
    const [b, c] = names().filter((n) => n !== a);
    const before = await fetchedBytes(c!);
    const slowA = { ...(await ref(a)), address: await slowLink(cluster.process(a).address, 3 * MiB) };
    await distribute(b!, [task(chunk, [slowA])]);
    await distribute(c!, [task(chunk, [await ref(b!), await ref(a)])]);
    await waitFor('C to be 2 MiB into the chunk', async () => ((await fetchedBytes(c!)) - before >= 2 * MiB ? true : undefined), 30_000);
    expect(await tasksIn(b!, 'running'), 'B still receiving').to.equal(1);
    await cluster.killAndWait(b!);

    expect((await held(c!, chunk)).equals(data)).to.equal(true);
    const fetched = (await fetchedBytes(c!)) - before;
    expect(fetched, 'bytes C fetched in all').to.be.at.least(data.length).and.below(data.length + 2 * MiB);
    expect((await diskBytes(c!, chunk)).equals(await diskBytes(a, chunk))).to.equal(true);
  });
});
