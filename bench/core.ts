import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DfsClient } from '../client-lib/index.js';
import { startCluster } from '../cli/cluster-commands.js';
import { terminate } from '../cli/process-launcher.js';
import { dataBlock, readThroughClient, writeThroughClient } from './client-stream.js';
import { measureCpu, median } from './process-cpu.js';

export interface CoreBenchOptions {
  fileBytes: number;
  chunkSizeBytes: number;
  runs: number;
  appenders: number;
  appendsPerClient: number;
  metadataOps: number;
  metadataConcurrency: number;
  /** Extra node arguments for the servers (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** Plaintext with no authentication (`dfs cluster start --insecure`): what TLS and auth cost, by difference. */
  insecure: boolean;
  print: (name: string, value: number, unit: string) => void;
}

const GB = 1e9;
const MB = 1e6;

/**
 * The core benchmark: a local cluster (one master, three chunkservers,
 * replication 3) on this machine; sequential write and read through the
 * client library, record appends from several clients, and metadata
 * operations. CPU is summed over every process, the benchmark's own client
 * included.
 */
export async function runCoreBench(options: CoreBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-'));
  const cluster = await startCluster({
    dir,
    masters: 1,
    chunkservers: 3,
    chunkSizeBytes: options.chunkSizeBytes,
    detach: false,
    masterArgs: ['--log-level', 'warn'],
    chunkserverArgs: ['--log-level', 'warn', '--scrub-interval-ms', '0'],
    nodeArgs: options.nodeArgs,
    insecure: options.insecure,
  });
  const pids = [process.pid, ...cluster.processes.map((p) => p.pid)];
  const client = await DfsClient.connect({ masters: cluster.masters, security: cluster.security });
  try {
    const block = dataBlock();
    const writes: number[] = [];
    const writeCpu: number[] = [];
    const reads: number[] = [];
    const readCpu: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const path = `/seq-${run}.bin`;
      const written = await measureCpu(pids, () => writeThroughClient(client, path, options.fileBytes, block));
      writes.push(options.fileBytes / MB / written.wallSeconds);
      writeCpu.push(written.cpuSeconds / (options.fileBytes / GB));
      const read = await measureCpu(pids, () => readThroughClient(client, path, options.fileBytes));
      reads.push(options.fileBytes / MB / read.wallSeconds);
      readCpu.push(read.cpuSeconds / (options.fileBytes / GB));
      await client.delete(path);
    }
    options.print('seq_write_throughput', median(writes), 'MB/s');
    options.print('seq_write_cpu', median(writeCpu), 'cpu-s/GB');
    options.print('seq_read_throughput', median(reads), 'MB/s');
    options.print('seq_read_cpu', median(readCpu), 'cpu-s/GB');

    await client.create('/appends');
    const appenders = await Promise.all(Array.from({ length: options.appenders }, () => DfsClient.connect({ masters: cluster.masters, security: cluster.security })));
    const record = randomBytes(1024);
    const appended = await measureCpu(pids, async () => {
      await Promise.all(
        appenders.map(async (c) => {
          const file = await c.open('/appends');
          for (let i = 0; i < options.appendsPerClient; i++) await file.append(record);
        }),
      );
    });
    for (const c of appenders) c.close();
    const totalAppends = options.appenders * options.appendsPerClient;
    options.print('append_1k_rate', totalAppends / appended.wallSeconds, 'appends/s');
    options.print('append_1k_cpu_per_append', (appended.cpuSeconds / totalAppends) * 1e6, 'cpu-us');

    await client.mkdir('/meta');
    const creates = await measureCpu(pids, () =>
      runConcurrently(options.metadataOps, options.metadataConcurrency, (i) => client.create(`/meta/f${i}`, { exclusive: true })),
    );
    options.print('create_rate', options.metadataOps / creates.wallSeconds, 'ops/s');
    const stats = await measureCpu(pids, () =>
      runConcurrently(options.metadataOps, options.metadataConcurrency, (i) => client.stat(`/meta/f${i}`)),
    );
    options.print('stat_rate', options.metadataOps / stats.wallSeconds, 'ops/s');
  } finally {
    client.close();
    await Promise.all(cluster.processes.map((p) => terminate(p.pid)));
    await rm(dir, { recursive: true, force: true });
  }
}

async function runConcurrently(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
}
