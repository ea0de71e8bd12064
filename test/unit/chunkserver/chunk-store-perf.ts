/**
 * Chunk store throughput, run by hand (not part of the suite):
 *   npx tsc -p tsconfig.json && node dist/test/unit/chunkserver/chunk-store-perf.js [runs]
 * Writes 512 MiB as eight 64 MiB chunks in 1 MiB writes, 4 in flight per
 * chunk, a sync every 8 MiB (group commit, not awaited before writing on),
 * then reads everything back verified, 1 MiB per read, 4 in flight.
 * Prints MB/s (10^6 bytes) and CPU-s per GB (10^9 bytes, user + system of
 * this process, so the thread pool's copies count). Reads come from the page
 * cache: the figure is the store's CPU cost, not the disk's speed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkHandle, chunkVersion } from '../../../common/ids.js';
import { silentLogger } from '../../../common/logger.js';
import { ChunkStore } from '../../../chunkserver/chunk-store.js';
import { patternBytes } from './helpers.js';

const MiB = 1024 * 1024;
const CHUNK_BYTES = 64 * MiB;
const CHUNKS = 8;
const IO_BYTES = MiB;
const IN_FLIGHT = 4;
const SYNC_EVERY_BYTES = 8 * MiB;

interface Figures {
  mbPerS: number;
  cpuSPerGb: number;
}

async function measure(fn: () => Promise<void>, bytes: number): Promise<Figures> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { mbPerS: bytes / 1e6 / seconds, cpuSPerGb: (cpu.user + cpu.system) / 1e6 / (bytes / 1e9) };
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
async function pipelined(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

async function writeChunk(store: ChunkStore, handle: number, sources: Buffer[]): Promise<void> {
  const h = chunkHandle(handle);
  await store.create(h, chunkVersion(1));
  let sync: Promise<number> | undefined;
  await pipelined(CHUNK_BYTES / IO_BYTES, IN_FLIGHT, async (i) => {
    await store.write(h, i * IO_BYTES, sources[i % sources.length]!);
    if (((i + 1) * IO_BYTES) % SYNC_EVERY_BYTES === 0) {
      const previous = sync;
      sync = store.sync(h);
      await previous;
    }
  });
  await sync;
  const durable = await store.sync(h);
  if (durable !== CHUNK_BYTES) throw new Error(`chunk ${handle} is ${durable} bytes durable`);
}

async function readChunk(store: ChunkStore, handle: number): Promise<void> {
  const h = chunkHandle(handle);
  await pipelined(CHUNK_BYTES / IO_BYTES, IN_FLIGHT, async (i) => {
    const bytes = await store.read(h, i * IO_BYTES, IO_BYTES);
    if (bytes.length !== IO_BYTES) throw new Error(`short read at ${i * IO_BYTES}`);
  });
}

async function run(): Promise<{ write: Figures; read: Figures }> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-chunk-store-perf-'));
  try {
    const store = await ChunkStore.open(dir, { logger: silentLogger });
    try {
      const sources = Array.from({ length: 8 }, (_, i) => patternBytes(IO_BYTES, i + 1));
      const total = CHUNKS * CHUNK_BYTES;
      const write = await measure(async () => {
        for (let c = 1; c <= CHUNKS; c++) await writeChunk(store, c, sources);
      }, total);
      const read = await measure(async () => {
        for (let c = 1; c <= CHUNKS; c++) await readChunk(store, c);
      }, total);
      return { write, read };
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs = Number(process.argv[2] ?? 3);
const results: Array<{ write: Figures; read: Figures }> = [];
for (let i = 0; i < runs; i++) {
  const r = await run();
  results.push(r);
  console.log(
    `run ${i + 1}: write ${r.write.mbPerS.toFixed(0)} MB/s ${r.write.cpuSPerGb.toFixed(2)} CPU-s/GB, ` +
      `read ${r.read.mbPerS.toFixed(0)} MB/s ${r.read.cpuSPerGb.toFixed(2)} CPU-s/GB`,
  );
}
console.log(
  `median of ${runs}: write ${median(results.map((r) => r.write.mbPerS)).toFixed(0)} MB/s ` +
    `${median(results.map((r) => r.write.cpuSPerGb)).toFixed(2)} CPU-s/GB, ` +
    `read ${median(results.map((r) => r.read.mbPerS)).toFixed(0)} MB/s ` +
    `${median(results.map((r) => r.read.cpuSPerGb)).toFixed(2)} CPU-s/GB`,
);
