import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { DfsClient } from '../client-lib/index.js';
import { sleep } from '../common/backoff.js';
import { callUnary } from '../common/grpc-client-pool.js';
import type { MetadataClient } from '../proto/generated/dfs/master/Metadata.js';
import { masterServices } from '../proto/load.js';
import { dataStream, type DataSeed } from './distribution-data.js';
import { completeServers, type ChunkReplicas } from './distribution-figures.js';

/**
 * What the distribution benchmark runs on one host of the shaped network
 * (`ip netns exec <host> node distribution-host.js '<task as JSON>'`): the
 * bench process lives in the root namespace, which has no route to the
 * hosts, so every client of the cluster runs here. Events go to stdout,
 * one JSON object a line; the last is `result` or `failed`.
 */
export type HostTask =
  | { task: 'servers'; master: string; expect: number; timeoutMs: number }
  | { task: 'write'; master: string; path: string; seed: DataSeed; bytes: number }
  | {
      task: 'watch';
      master: string;
      path: string;
      /** What starts the clock: `setrep all` on the file, or appending `appendBytes` of stream `seed` to it. */
      action: { kind: 'setrep' } | { kind: 'append'; seed: DataSeed; bytes: number };
      /** The chunkservers that must end up holding every chunk. */
      servers: string[];
      expectedSize: number;
      pollMs: number;
      timeoutMs: number;
    }
  | { task: 'read'; master: string; path: string; serverId: string };

export interface WatchResult {
  /** Where `completeMs` comes from: the leader's distribution status once it serves, GetChunks before. */
  source: 'DistributionStatus' | 'GetChunks';
  /** Per server id: ms from the start of the action until the source first said it holds every chunk at its current version. */
  completeMs: Record<string, number>;
  /** The same, by GetChunks (what readers are told), and by DistributionStatus if it served. */
  getChunksMs: Record<string, number>;
  distributionStatusMs: Record<string, number>;
  /** ms until the action itself returned (setattr, or the append acknowledged). */
  actionMs: number;
  /** The wall clock when the clock started, so that the bench can place its own samples on this timeline. */
  startedAtWallMs: number;
  /** The leader's own count of bytes the origin sent, when DistributionStatus serves. */
  originSentBytes: number | undefined;
}

export type HostEvent =
  | { type: 'result'; servers: { id: string; address: string }[] }
  | { type: 'result'; sha256: string; bytes: number; ms: number }
  | ({ type: 'result' } & WatchResult)
  | { type: 'failed'; message: string };

const CALL_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2]!) as HostTask;
  const client = await DfsClient.connect({
    masters: [task.master],
    // The benchmark's servers run plaintext, as its figures before mutual TLS did (see bench/distribution.ts).
    security: { insecure: true },
    ...(task.task === 'read' ? { locality: { serverIds: [task.serverId] } } : {}),
  });
  try {
    switch (task.task) {
      case 'servers':
        return emit({ type: 'result', servers: await registered(client, task.expect, task.timeoutMs) });
      case 'write': {
        const started = performance.now();
        const hash = createHash('sha256');
        // Replication 1: the file starts out on the only chunkserver up, the origin's.
        const file = await client.createWriteStream(task.path, { replication: 1, exclusive: true });
        await pipeline(
          dataStream(task.seed, task.bytes),
          async function* (blocks: AsyncIterable<Buffer>) {
            for await (const block of blocks) {
              hash.update(block);
              yield block;
            }
          },
          file,
        );
        return emit({ type: 'result', sha256: hash.digest('hex'), bytes: task.bytes, ms: performance.now() - started });
      }
      case 'watch':
        return emit({ type: 'result', ...(await watch(client, task)) });
      case 'read': {
        const started = performance.now();
        const hash = createHash('sha256');
        let bytes = 0;
        for await (const block of await client.createReadStream(task.path)) {
          hash.update(block as Buffer);
          bytes += (block as Buffer).length;
        }
        return emit({ type: 'result', sha256: hash.digest('hex'), bytes, ms: performance.now() - started });
      }
    }
  } finally {
    client.close();
  }
}

async function registered(client: DfsClient, expect: number, timeoutMs: number): Promise<{ id: string; address: string }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const servers = (await client.listChunkservers()).filter((s) => s.alive && s.registered);
    if (servers.length >= expect) return servers.map((s) => ({ id: s.server!.id, address: s.server!.address }));
    if (Date.now() > deadline) throw new Error(`${servers.length} of ${expect} chunkservers registered after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Starts the clock, runs the action, and polls the leader every `pollMs`
 * until every server holds every chunk of the file at its current
 * version. A time is when the poll that first saw it returned: at most
 * `pollMs` (plus one round trip) late.
 */
async function watch(client: DfsClient, task: Extract<HostTask, { task: 'watch' }>): Promise<WatchResult> {
  const services = masterServices().dfs.master;
  const metadata = new services.Metadata(task.master, grpc.credentials.createInsecure());
  const admin = new services.Admin(task.master, grpc.credentials.createInsecure());
  try {
    const { inode } = await client.stat(task.path);
    const chunkSizeBytes = client.cluster.chunkSizeBytes;
    const startedAtWallMs = Date.now();
    const started = performance.now();
    const since = () => performance.now() - started;
    let actionMs: number | undefined;
    let actionError: unknown;
    const action = (async () => {
      if (task.action.kind === 'setrep') {
        await client.setAttributes(task.path, { replication: 'all' });
      } else {
        const file = await client.createWriteStream(task.path, { flags: 'a' });
        await pipeline(dataStream(task.action.seed, task.action.bytes), file);
      }
      actionMs = since();
    })().catch((err: unknown) => (actionError = err));
    const getChunksMs: Record<string, number> = {};
    const distributionStatusMs: Record<string, number> = {};
    let dsServed = false;
    let originSentBytes: number | undefined;
    const wanted = new Set(task.servers);
    const allIn = (times: Record<string, number>) => task.servers.every((s) => times[s] !== undefined);
    for (;;) {
      if (actionError !== undefined) throw actionError;
      const [chunks, status] = await Promise.all([
        fileChunks(metadata, inode, task.expectedSize, chunkSizeBytes),
        // A master without the distribution tier answers UNAVAILABLE: GetChunks alone then says who is done.
        callUnary(admin, 'DistributionStatus', { path: task.path, maxNodes: task.servers.length + 1 }, CALL_TIMEOUT_MS).catch(() => undefined),
      ]);
      const at = since();
      if (chunks.size >= task.expectedSize) {
        for (const id of completeServers(chunks.chunks, Math.ceil(task.expectedSize / chunkSizeBytes))) {
          if (wanted.has(id)) getChunksMs[id] ??= at;
        }
      }
      if (status !== undefined) {
        dsServed = true;
        originSentBytes = Number(status.originSentBytes);
        if (Number(status.fileBytes) >= task.expectedSize) {
          for (const node of status.nodeStatus) if (node.complete && wanted.has(node.server!.id)) distributionStatusMs[node.server!.id] ??= at;
        }
      }
      if (actionMs !== undefined && (allIn(getChunksMs) || (dsServed && allIn(distributionStatusMs)))) break;
      if (at > task.timeoutMs) {
        const missing = task.servers.filter((s) => getChunksMs[s] === undefined && distributionStatusMs[s] === undefined);
        throw new Error(
          `after ${Math.round(at)} ms ${missing.length} of ${task.servers.length} chunkservers still lack chunks (size ${chunks.size} of ${task.expectedSize}; replicas per chunk ${chunks.chunks.map((c) => c.replicas.length).join(',')})`,
        );
      }
      await sleep(task.pollMs);
    }
    await action;
    const source = dsServed && allIn(distributionStatusMs) ? 'DistributionStatus' : 'GetChunks';
    return {
      source,
      completeMs: source === 'DistributionStatus' ? distributionStatusMs : getChunksMs,
      getChunksMs,
      distributionStatusMs,
      actionMs: actionMs!,
      startedAtWallMs,
      originSentBytes,
    };
  } finally {
    metadata.close();
    admin.close();
  }
}

/** The file's size and the replicas of its first `expectedSize` bytes' chunks, as GetChunks tells a reader. */
async function fileChunks(
  metadata: MetadataClient,
  inode: number,
  expectedSize: number,
  chunkSizeBytes: number,
): Promise<{ size: number; chunks: ChunkReplicas[] }> {
  const want = Math.ceil(expectedSize / chunkSizeBytes);
  const chunks: ChunkReplicas[] = [];
  let size = 0;
  for (let first = 0; first < want; ) {
    const page = await callUnary(metadata, 'GetChunks', { inode: String(inode), firstIndex: String(first), count: 0 }, CALL_TIMEOUT_MS);
    size = Number(page.attr!.size);
    if (page.chunks.length === 0) break;
    for (const c of page.chunks) chunks.push({ index: Number(c.index), replicas: c.replicas.map((r) => r.id) });
    first = Number(page.chunks[page.chunks.length - 1]!.index) + 1;
  }
  return { size, chunks };
}

function emit(event: HostEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    emit({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
