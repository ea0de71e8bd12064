import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, terminate } from '../cli/process-launcher.js';
import { runBittorrentBaseline } from './distribution-bittorrent.js';
import { expectedSha256, newSeed } from './distribution-data.js';
import { parseRate, phaseFigures } from './distribution-figures.js';
import { ShapedNetwork, type LinkBytes, type ShapedHost } from './distribution-network.js';
import { runOnHost } from './distribution-tasks.js';
import { machineBusySeconds, median, processCpuSeconds } from './process-cpu.js';
import { sleep } from '../common/backoff.js';

const MASTER_PORT = 7000;
const CHUNKSERVER_PORT = 7100;
const FILE = '/hot.bin';
/** Chunkservers started at once: each start costs a node process's boot on 2 shared cores. */
const START_CONCURRENCY = 4;
/** Whole-file reads at once for the hash check: remote ones are network-bound, local ones CPU-bound. */
const READ_CONCURRENCY = 4;
const MIB = 1024 * 1024;

export interface DistributionBenchOptions {
  hosts: number;
  /** tc syntax, e.g. 100mbit: every host's link, both ways. */
  rate: string;
  fileBytes: number;
  chunkSizeBytes: number;
  runs: number;
  appendPct: number;
  vsBittorrent: boolean;
  pollMs: number;
  /** The servers' log level (their logs are in the work directory). */
  serverLogLevel: string;
  /** Keep the work directory (data and server logs) instead of removing it; its path goes to the log. */
  keepDir: boolean;
  print: (name: string, value: number, unit: string) => void;
  /** Progress and per-host detail (stderr): stdout carries only the figures. */
  log: (line: string) => void;
}

type Figure = { name: string; value: number; unit: string };

/**
 * The real distribution benchmark (issue 5): N hosts in network
 * namespaces, every link shaped to RATE, a master and a chunkserver per
 * host as real processes. The file is written on h0 alone (replication 1),
 * the other chunkservers join, then the clock starts and the file's goal
 * becomes `all`. Per receiving host: the time until it holds every chunk
 * at its current version; then every host reads the file back and checks
 * its sha256. Then APPEND_PCT % more is appended and measured the same
 * way. With --vs bittorrent, ../shared/peers/bittorrent-baseline.sh runs
 * on an identically built network afterwards. Medians over `runs`.
 */
export async function runDistributionBench(options: DistributionBenchOptions): Promise<void> {
  const bitsPerSecond = parseRate(options.rate);
  if (options.hosts < 2) throw new Error('--hosts must be at least 2: an origin and a receiver');
  const runs: Figure[][] = [];
  const failures: string[] = [];
  for (let k = 1; k <= options.runs; k++) {
    options.log(`distribution run ${k}/${options.runs}: ${options.hosts} hosts at ${options.rate}, ${options.fileBytes} bytes`);
    const run = await distributeOnce(options, bitsPerSecond);
    runs.push(run.figures);
    failures.push(...run.failures);
  }
  const ours = medians(runs);
  for (const f of ours) options.print(f.name, f.value, f.unit);
  if (options.vsBittorrent) {
    const workDir = await makeScratchDir('dfs-bench-bittorrent-');
    try {
      const bt = await runBittorrentBaseline({ hosts: options.hosts, rate: options.rate, fileBytes: options.fileBytes, runs: options.runs, workDir, log: options.log });
      const last = median(bt.map((r) => r.lastS));
      options.print('bittorrent_last_host_s', last, 's');
      options.print('bittorrent_median_host_s', median(bt.map((r) => r.medianS)), 's');
      options.print('bittorrent_lower_bound_s', median(bt.map((r) => r.lowerBoundS)), 's');
      options.print('bittorrent_ratio_last', median(bt.map((r) => r.ratioLast)), 'x');
      options.print('bittorrent_ratio_median', median(bt.map((r) => r.ratioMedian)), 'x');
      const uploads = bt.map((r) => r.originUploadRatio).filter((u): u is number => u !== undefined);
      if (uploads.length > 0) options.print('bittorrent_origin_upload_ratio', median(uploads), 'x');
      options.print('bittorrent_cpu_s_per_gb', median(bt.map((r) => r.clientsCpuS)) / ((options.fileBytes * (options.hosts - 1)) / 1e9), 'cpu-s/GB');
      options.print('ratio_vs_bittorrent_last', last / ours.find((f) => f.name === 'last_host_s')!.value, 'x');
    } finally {
      await removeScratchDir(workDir);
    }
  }
  if (failures.length > 0) throw new Error(`hash check failed:\n${failures.join('\n')}`);
}

/** Per-figure medians over runs, in the order the first run printed them. */
function medians(runs: Figure[][]): Figure[] {
  return runs[0]!.map((f) => ({ ...f, value: median(runs.map((r) => r.find((g) => g.name === f.name)!.value)) }));
}

/** tmpfs when there is one, as the BitTorrent baseline uses: the disk is not what is measured. */
function scratchRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** Work directories not yet removed: on tmpfs they hold up to N x SIZE of RAM, so an interrupted run removes them too. */
const scratchDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

async function makeScratchDir(name: string, keep = false): Promise<string> {
  const dir = await mkdtemp(join(scratchRoot(), name));
  if (!keep) scratchDirs.add(dir);
  return dir;
}

async function removeScratchDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  scratchDirs.delete(dir);
}

interface Cluster {
  network: ShapedNetwork;
  master: string;
  /** The master's and every chunkserver's pid, for their CPU time. */
  serverPids: number[];
  /** Chunkserver id per host index. */
  serverIds: string[];
}

async function distributeOnce(options: DistributionBenchOptions, bitsPerSecond: number): Promise<{ figures: Figure[]; failures: string[] }> {
  const dir = await makeScratchDir('dfs-bench-distribution-', options.keepDir);
  const pids: number[] = [];
  const network = await ShapedNetwork.up(options.hosts, options.rate);
  try {
    const figures: Figure[] = [];
    const failures: string[] = [];
    const add = (name: string, value: number, unit: string) => figures.push({ name, value, unit });
    const origin = network.host(0);
    const master = `${origin.address}:${MASTER_PORT}`;
    pids.push(await startMaster(origin, master, dir, options));
    pids.push(await startChunkserver(origin, master, dir, options));
    const lowerBoundS = (options.fileBytes * 8) / bitsPerSecond;
    const deadlineMs = Math.round(30 * lowerBoundS * 1000 + 120_000);

    const seed = newSeed();
    const written = await runOnHost(origin, { task: 'write', master, path: FILE, seed, bytes: options.fileBytes }, deadlineMs);
    const sha256 = expectedSha256([{ seed, bytes: options.fileBytes }]);
    if (written.sha256 !== sha256) throw new Error(`the origin wrote ${written.sha256}, the stream hashes to ${sha256}`);
    options.log(`origin: ${options.fileBytes} bytes written on ${origin.namespace} in ${(written.ms / 1000).toFixed(1)} s (replication 1), sha256 ${sha256}`);

    await forEachLimited(network.hosts.slice(1), START_CONCURRENCY, async (h) => void pids.push(await startChunkserver(h, master, dir, options)));
    const cluster: Cluster = { network, master, serverPids: pids, serverIds: await serverIdsByHost(network, master) };
    options.log(`${options.hosts} chunkservers registered; setrep all ${FILE}`);

    const full = await measurePhase(options, cluster, { kind: 'setrep' }, options.fileBytes, deadlineMs);
    const fullFigures = phaseFigures(full.hostSeconds, options.fileBytes, bitsPerSecond);
    add('last_host_s', fullFigures.lastHostS, 's');
    add('median_host_s', fullFigures.medianHostS, 's');
    add('lower_bound_s', fullFigures.lowerBoundS, 's');
    add('ratio_last', fullFigures.ratioLast, 'x');
    add('ratio_median', fullFigures.ratioMedian, 'x');
    add('origin_upload_ratio', full.linkDelta[0]!.tx / options.fileBytes, 'x');
    add('first_mib_s', full.firstMibS, 's');
    add('cpu_busy_pct', full.cpuBusyPct, '%');
    add('cpu_s_per_gb', full.serversCpuS / ((options.fileBytes * (options.hosts - 1)) / 1e9), 'cpu-s/GB');
    const check = await verifyEveryHost(options, cluster, sha256, options.fileBytes, deadlineMs);
    add('hosts_verified', check.matched, 'hosts');
    add('local_read_pct_min', check.localPctMin, '%');
    failures.push(...check.failures);

    const appendBytes = Math.max(1, Math.round((options.fileBytes * options.appendPct) / 100));
    const appendSeed = newSeed();
    const appendedSha256 = expectedSha256([
      { seed, bytes: options.fileBytes },
      { seed: appendSeed, bytes: appendBytes },
    ]);
    options.log(`appending ${appendBytes} bytes (${options.appendPct}%) on ${origin.namespace}`);
    const inc = await measurePhase(options, cluster, { kind: 'append', seed: appendSeed, bytes: appendBytes }, options.fileBytes + appendBytes, deadlineMs);
    const incFigures = phaseFigures(inc.hostSeconds, appendBytes, bitsPerSecond);
    add('append_last_host_s', incFigures.lastHostS, 's');
    add('append_median_host_s', incFigures.medianHostS, 's');
    add('append_lower_bound_s', incFigures.lowerBoundS, 's');
    add('append_ratio_last', incFigures.ratioLast, 'x');
    const received = inc.linkDelta.reduce((sum, l) => sum + l.rx, 0);
    add('append_bytes_moved_ratio', received / (appendBytes * (options.hosts - 1)), 'x');
    const appendCheck = await verifyEveryHost(options, cluster, appendedSha256, options.fileBytes + appendBytes, deadlineMs);
    add('append_hosts_verified', appendCheck.matched, 'hosts');
    add('append_local_read_pct_min', appendCheck.localPctMin, '%');
    failures.push(...appendCheck.failures);
    return { figures, failures };
  } finally {
    for (const pid of pids.reverse()) await terminate(pid, 5_000);
    await network.down();
    if (options.keepDir) options.log(`kept ${dir} (server logs: *.log)`);
    else await removeScratchDir(dir);
  }
}

async function startMaster(host: ShapedHost, address: string, dir: string, options: DistributionBenchOptions): Promise<number> {
  const data = join(dir, `${host.namespace}-master`);
  await mkdir(data, { recursive: true });
  const launched = await launch({
    role: 'master',
    args: ['--host', '0.0.0.0', '--port', String(MASTER_PORT), '--http-port', '-1', '--advertise-address', address, '--data-dir', data, '--chunk-size', String(options.chunkSizeBytes), '--replication', '1', '--insecure', '--log-level', options.serverLogLevel],
    readyFile: join(dir, `${host.namespace}-master.ready`),
    logFile: join(dir, `${host.namespace}-master.log`),
    detached: false,
    wrapper: host.wrapper,
  });
  return launched.pid;
}

async function startChunkserver(host: ShapedHost, master: string, dir: string, options: DistributionBenchOptions): Promise<number> {
  const data = join(dir, `${host.namespace}-chunkserver`);
  await mkdir(data, { recursive: true });
  const launched = await launch({
    role: 'chunkserver',
    args: ['--host', '0.0.0.0', '--port', String(CHUNKSERVER_PORT), '--http-port', '-1', '--advertise-address', `${host.address}:${CHUNKSERVER_PORT}`, '--data-dir', data, '--masters', master, '--rack', `rack-${host.index}`, '--scrub-interval-ms', '0', '--insecure', '--log-level', options.serverLogLevel],
    readyFile: join(dir, `${host.namespace}-chunkserver.ready`),
    logFile: join(dir, `${host.namespace}-chunkserver.log`),
    detached: false,
    wrapper: host.wrapper,
  });
  return launched.pid;
}

/** Waits until every host's chunkserver is registered with the master; its id per host index. */
async function serverIdsByHost(network: ShapedNetwork, master: string): Promise<string[]> {
  const { servers } = await runOnHost(network.host(0), { task: 'servers', master, expect: network.hosts.length, timeoutMs: 60_000 }, 70_000);
  return network.hosts.map((h) => {
    const s = servers.find((x) => x.address === `${h.address}:${CHUNKSERVER_PORT}`);
    if (s === undefined) throw new Error(`no chunkserver registered from ${h.namespace} (${h.address})`);
    return s.id;
  });
}

/**
 * One timed phase, run from h0: the action, then polling until every
 * receiving host holds the file. Link counters are read just before and
 * just after (heartbeats between phases are a few hundred bytes a second).
 */
async function measurePhase(
  options: DistributionBenchOptions,
  cluster: Cluster,
  action: { kind: 'setrep' } | { kind: 'append'; seed: string; bytes: number },
  expectedSize: number,
  deadlineMs: number,
): Promise<{ hostSeconds: number[]; linkDelta: LinkBytes[]; cpuBusyPct: number; serversCpuS: number; firstMibS: number }> {
  const receivers = cluster.serverIds.slice(1);
  const before = await cluster.network.linkBytes();
  const received = (links: LinkBytes[]) => links.slice(1).reduce((sum, l) => sum + l.rx, 0);
  // The receivers' links sampled as the phase runs: when did data start to flow?
  const samples: { atWallMs: number; receivedBytes: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ atWallMs: Date.now(), receivedBytes: received(await cluster.network.linkBytes()) - received(before) });
      await sleep(options.pollMs);
    }
  })();
  const busyBefore = machineBusySeconds();
  const serversCpuBefore = cluster.serverPids.map(processCpuSeconds);
  const started = performance.now();
  const result = await runOnHost(
    cluster.network.host(0),
    { task: 'watch', master: cluster.master, path: FILE, action, servers: receivers, expectedSize, pollMs: options.pollMs, timeoutMs: deadlineMs },
    deadlineMs + 30_000,
  ).finally(() => (sampling = false));
  await sampler;
  const wallS = (performance.now() - started) / 1000;
  const serversCpuS = cluster.serverPids.map(processCpuSeconds).reduce((sum, v, i) => sum + v - serversCpuBefore[i]!, 0);
  const firstMib = samples.find((s) => s.receivedBytes >= MIB);
  const firstMibS = firstMib === undefined ? Number.NaN : (firstMib.atWallMs - result.startedAtWallMs) / 1000;
  const cpuBusyPct = ((machineBusySeconds() - busyBefore) / wallS / 2) * 100;
  const after = await cluster.network.linkBytes();
  const hostSeconds = receivers.map((id) => result.completeMs[id]! / 1000);
  options.log(
    `${action.kind}: completion from ${result.source}; action returned after ${(result.actionMs / 1000).toFixed(2)} s; per host (s): ` +
      hostSeconds.map((s, i) => `h${i + 1}=${s.toFixed(2)}`).join(' ') +
      (result.originSentBytes !== undefined ? `; leader's origin_sent_bytes ${result.originSentBytes}` : ''),
  );
  if (result.source === 'DistributionStatus') {
    options.log(
      `${action.kind}: by GetChunks (s): ` + receivers.map((id, i) => `h${i + 1}=${result.getChunksMs[id] === undefined ? 'not yet' : (result.getChunksMs[id]! / 1000).toFixed(2)}`).join(' '),
    );
  }
  return { hostSeconds, linkDelta: after.map((a, i) => ({ tx: a.tx - before[i]!.tx, rx: a.rx - before[i]!.rx })), cpuBusyPct, serversCpuS, firstMibS };
}

/**
 * Every host reads the whole file through the client library, preferring
 * its own chunkserver, and checks the sha256. What its link received while
 * reading says how much came from elsewhere.
 */
async function verifyEveryHost(
  options: DistributionBenchOptions,
  cluster: Cluster,
  sha256: string,
  size: number,
  deadlineMs: number,
): Promise<{ matched: number; localPctMin: number; failures: string[] }> {
  let matched = 0;
  const failures: string[] = [];
  const localPct: number[] = [];
  await forEachLimited(cluster.network.hosts, READ_CONCURRENCY, async (host) => {
    const before = (await cluster.network.linkBytes())[host.index]!.rx;
    const read = await runOnHost(host, { task: 'read', master: cluster.master, path: FILE, serverId: cluster.serverIds[host.index]! }, deadlineMs);
    const fetched = (await cluster.network.linkBytes())[host.index]!.rx - before;
    localPct.push(Math.max(0, 100 * (1 - fetched / size)));
    if (read.sha256 === sha256 && read.bytes === size) matched++;
    else failures.push(`${host.namespace}: read ${read.bytes} bytes hashing to ${read.sha256}, expected ${size} bytes hashing to ${sha256}`);
  });
  options.log(`hash check: ${matched}/${cluster.network.hosts.length} hosts read ${size} bytes with sha256 ${sha256}; local share of each read (%): ${localPct.map((p) => p.toFixed(0)).join(' ')}`);
  return { matched, localPctMin: Math.min(...localPct), failures };
}

/** `work` for every item, at most `limit` at a time; the first failure is thrown once the rest have settled. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const outcomes = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
