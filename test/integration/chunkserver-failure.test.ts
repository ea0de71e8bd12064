import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { chunkPath } from '../../chunkserver/chunk-files.js';
import { isAlive } from '../../cli/process-launcher.js';
import { crc32c } from '../../common/crc32c.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { chunkHandle } from '../../common/ids.js';
import { createLogger } from '../../common/logger.js';
import type { ReadResponse__Output } from '../../proto/generated/dfs/chunk/ReadResponse.js';
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
    client = await cluster.client({ logger: createLogger('client', 'debug', openSync(join(cluster.dir, 'client.log'), 'a')) });
    raw = rawClients(cluster.masters[0]!, cluster);
  });
  after(async () => {
    raw?.close();
    await cluster?.stop();
  });
  // A failed test must not leave the next one short of a chunkserver.
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') cluster.keep();
    await cluster.restart();
  });

  /** Where `got` differs from `want`: ranges of zeros or of other bytes, or where it ends early. */
  function differences(got: Buffer, want: Buffer): string {
    const out: string[] = [];
    for (let i = 0; i < want.length && out.length < 8; ) {
      if (i >= got.length) {
        out.push(`ends at ${got.length} of ${want.length}`);
        break;
      }
      if (got[i] === want[i]) {
        i++;
        continue;
      }
      let j = i;
      let zeros = true;
      for (; j < Math.min(got.length, want.length) && got[j] !== want[j]; j++) zeros &&= got[j] === 0;
      out.push(`[${i}, ${j}) ${zeros ? 'zeros' : 'other bytes'}`);
      i = j;
    }
    return out.length === 0 ? 'intact' : out.join(', ');
  }

  /** A replica as its chunkserver serves it (any version), compared with `want`. */
  async function replicaState(name: string, handle: string, want: Buffer): Promise<string> {
    const peer = rawClients(cluster.process(name).address, cluster);
    try {
      const stream = peer.data().Read({ handle, version: '0', offset: '0', length: String(cluster.chunkSizeBytes) });
      const parts: Buffer[] = [];
      let meta = '';
      for await (const frame of stream as AsyncIterable<ReadResponse__Output>) {
        parts.push(frame.data);
        meta = `version ${frame.version}, length ${frame.chunkLength}`;
      }
      return `${meta}: ${differences(Buffer.concat(parts), want)}`;
    } catch (err) {
      return (err as Error).message;
    } finally {
      peer.close();
    }
  }

  /**
   * Reads the file through the client, and every replica the master offers
   * straight from its chunkserver (unless killed and not yet found dead):
   * each must hold every byte written (a replica missing some would look like
   * a hole to readers). On failure the report says, per chunk, which bytes the client got
   * wrong and what every chunkserver holds, and the cluster's logs are kept.
   */
  async function expectIntact(path: string, data: Buffer, what: string): Promise<void> {
    const got = await client.readFile(path);
    const inode = String((await client.stat(path)).inode);
    const page = await callUnary(raw.metadata(), 'GetChunks', { inode, firstIndex: '0', count: 0 }, 5000);
    const names = new Map<string, string>();
    for (const cs of cluster.chunkservers()) names.set(await cluster.serverId(cs.name), cs.name);
    const size = cluster.chunkSizeBytes;
    const slice = (b: Buffer, i: number) => b.subarray(i * size, Math.min((i + 1) * size, b.length));
    const report: string[] = [];
    let intact = got.equals(data);
    for (const c of page.chunks) {
      const i = Number(c.index);
      const offered = new Set(c.replicas.map((r) => names.get(r.id)));
      report.push(`chunk ${i} (handle ${c.handle}, version ${c.version}): the client read ${differences(slice(got, i), slice(data, i))}`);
      for (const name of names.values()) {
        const state = await replicaState(name, c.handle, slice(data, i));
        const killed = !isAlive(cluster.process(name).pid);
        if (offered.has(name) && !killed && !state.endsWith(': intact')) intact = false;
        report.push(`  ${name}${offered.has(name) ? ' (offered)' : ''}: ${state}`);
      }
    }
    if (!intact) {
      cluster.keep();
      expect.fail(`${what}:\n${report.join('\n')}`);
    }
  }

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

  it('answers a retried append with its first offset from a copy that became primary (invariant 4)', async () => {
    const path = '/dedup-after-copy';
    await client.create(path);
    const inode = String((await client.stat(path)).inode);
    const metadata = raw.metadata();
    const alloc = await callUnary(metadata, 'AllocateChunk', { requestId: { clientId: 'dedup-test', seq: '1' }, inode, index: '0' }, 5000);
    const handle = alloc.chunks[0]!.handle;
    const names = new Map<string, string>();
    for (const cs of cluster.chunkservers()) names.set(await cluster.serverId(cs.name), cs.name);
    const before = Buffer.from('a record from another client, so that the retried one is not at offset 0');
    const record = Buffer.from('landed once, whoever is primary');
    /** Appends through whichever chunkserver holds the lease now, as a client retrying would. */
    const append = async (data: Buffer, clientId: string, seq: number) => {
      const { lease } = await callUnary(metadata, 'GetLease', { handle }, 5000);
      const primary = rawClients(lease!.primary!.address, cluster);
      try {
        const request = { handle, version: lease!.version, clientId, seq: String(seq), data, dataCrc32c: crc32c(data) };
        const { offset } = await callUnary(primary.data(), 'Append', request, 5000);
        return { offset: Number(offset), primary: names.get(lease!.primary!.id)!, holders: [lease!.primary!, ...lease!.secondaries].map((r) => names.get(r.id)!) };
      } finally {
        primary.close();
      }
    };
    await append(before, 'other-client', 1);
    const first = await append(record, 'retrying-client', 9);
    expect(first.offset).to.equal(before.length);
    const [lost, ...originals] = first.holders.filter((n) => n !== first.primary).concat(first.primary);
    const spare = [...names.values()].find((n) => !first.holders.includes(n))!;

    // One replica dies; the master copies the chunk to the spare.
    await cluster.killAndWait(lost!);
    await waitForGoal(path, 3, await cluster.serverId(lost!));
    // The two originals die: the copy is the only replica left, and becomes primary.
    for (const name of originals) await cluster.killAndWait(name);
    const retried = await waitFor('the retried append answered by the copy', async () => {
      try {
        return await append(record, 'retrying-client', 9);
      } catch {
        return undefined;
      }
    }, 60_000);
    expect(retried.primary).to.equal(spare);
    expect(retried.offset, 'the retry found where the record first landed').to.equal(first.offset);
    expect((await client.readFile(path)).toString()).to.equal(before.toString() + record.toString());
  });

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
      await expectIntact(path, data, 'data read back intact');

      const victimId = await cluster.serverId(victim);
      await waitForGoal(path, 3, victimId);
      await expectIntact(path, data, 'data intact after re-replication');

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
      await expectIntact(path, data, 'data intact after the node returned');
    });
  }
});
