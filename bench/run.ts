import { loadavg } from 'node:os';
import { Command } from 'commander';
import { parseSize } from '../cli/size.js';
import { runCoreBench } from './core.js';
import { runRestartBench } from './restart.js';
import { runMetadataBench } from './metadata.js';
import type { Phase } from './metadata-worker.js';
import { runRaftBench } from './raft.js';
import { runFuseBench } from './fuse.js';
import { runDistributionBench } from './distribution.js';
import { parseRate } from './distribution-figures.js';
import { runDistributionSimBench } from './distribution-sim.js';
import { runVsMoosefsBench } from './vs-moosefs.js';

const PHASES: readonly Phase[] = ['mkdir', 'create', 'stat', 'rename'];

/** `npm run bench -- <name> [options]`: one line per figure, `<name> <value> <unit>`. */
const program = new Command('bench').description('benchmarks that print machine-readable figures');

const print = (name: string, value: number, unit: string) => {
  const shown = Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
  process.stdout.write(`${name} ${shown} ${unit}\n`);
};

program
  .command('core')
  .description('a local cluster (1 master, 3 chunkservers, 3 replicas): sequential write/read, appends, metadata')
  .option('--size <size>', 'bytes written and read per run', '1GiB')
  .option('--chunk-size <size>', 'chunk size', '64MiB')
  .option('--runs <n>', 'runs of the sequential write/read (medians reported)', '3')
  .option('--appenders <n>', 'concurrent appending clients', '8')
  .option('--appends <n>', 'records per appending client', '250')
  .option('--metadata-ops <n>', 'creates, then stats', '5000')
  .option('--metadata-concurrency <n>', 'metadata requests in flight', '16')
  .option('--node-args <args>', 'extra node arguments for every server, e.g. "--cpu-prof --cpu-prof-dir=prof"', '')
  .option('--insecure', 'a plaintext cluster with no authentication, to measure what TLS costs', false)
  .action(async (opts: Record<string, string | boolean>) => {
    await runCoreBench({
      fileBytes: parseSize(String(opts.size)),
      chunkSizeBytes: parseSize(String(opts.chunkSize)),
      runs: Number(opts.runs),
      appenders: Number(opts.appenders),
      appendsPerClient: Number(opts.appends),
      metadataOps: Number(opts.metadataOps),
      metadataConcurrency: Number(opts.metadataConcurrency),
      nodeArgs: String(opts.nodeArgs).split(' ').filter(Boolean),
      insecure: opts.insecure === true,
      print,
    });
  });

program
  .command('restart')
  .description('how fast a master with a long history restarts: from its snapshot, then the log suffix')
  .option('--files <n>', 'files created to build the history', '200000')
  .option('--snapshot-every-entries <n>', 'the masters\' snapshot interval', '200')
  .action(async (opts: Record<string, string>) => {
    await runRestartBench({
      files: positive(opts.files!, 'files'),
      snapshotEveryEntries: positive(opts.snapshotEveryEntries!, 'snapshot-every-entries'),
      print,
    });
  });

program
  .command('raft')
  .description('raw Raft: commits/s of a group of real processes (LevelDB, gRPC) with a no-op state machine')
  .option('--nodes <n>', 'members, one process each', '3')
  .option('--seconds <s>', 'length of the measured load', '10')
  .option('--proposers <n>', 'concurrent proposers on the leader', '64')
  .option('--payload <bytes>', 'bytes per entry', '128')
  .option('--node-args <args>', 'extra node arguments for every member, e.g. "--cpu-prof --cpu-prof-dir=prof"', '')
  .action(async (opts: Record<string, string>) => {
    await runRaftBench({
      nodes: positive(opts.nodes!, 'nodes'),
      seconds: positive(opts.seconds!, 'seconds'),
      proposers: positive(opts.proposers!, 'proposers'),
      payloadBytes: positive(opts.payload!, 'payload'),
      nodeArgs: opts.nodeArgs!.split(' ').filter(Boolean),
      print,
    });
  });

program
  .command('metadata')
  .description('metadata ops/s through a Raft group of masters, from concurrent clients in worker processes, batched and not')
  .option('--masters <n>', 'masters in the Raft group', '3')
  .option('--clients <n>', 'concurrent DfsClients', '16')
  .option('--workers <n>', 'processes the clients run in', '4')
  .option('--depth <n>', 'calls each client keeps in flight (a full batch: LIMITS.batchOpsMax)', '128')
  .option('--ops <n>', 'ops per phase, over all clients', '60000')
  .option('--batching <mode>', 'client coalescing: on, off or both', 'both')
  .option('--phases <list>', 'comma-separated, in order: mkdir,create,stat,rename', 'mkdir,create,stat,rename')
  .option('--node-args <args>', 'extra node arguments for masters and client processes, e.g. "--cpu-prof --cpu-prof-dir=prof"', '')
  .action(async (opts: Record<string, string>) => {
    const batching = opts.batching!;
    if (batching !== 'on' && batching !== 'off' && batching !== 'both') throw new Error(`--batching must be on, off or both, got ${batching}`);
    const phases = opts.phases!.split(',').map((p) => p.trim());
    for (const p of phases) if (!PHASES.includes(p as Phase)) throw new Error(`unknown phase ${p}: use ${PHASES.join(', ')}`);
    if (phases.includes('stat') && !phases.includes('create')) throw new Error('the stat phase stats the files the create phase made');
    if (phases.includes('rename') && !phases.includes('create')) throw new Error('the rename phase renames the files the create phase made');
    const clients = positive(opts.clients!, 'clients');
    const workers = positive(opts.workers!, 'workers');
    if (workers > clients) throw new Error('--workers must be at most --clients');
    await runMetadataBench({
      masters: positive(opts.masters!, 'masters'),
      clients,
      workers,
      depth: positive(opts.depth!, 'depth'),
      ops: positive(opts.ops!, 'ops'),
      batching,
      phases: PHASES.filter((p) => phases.includes(p)),
      nodeArgs: opts.nodeArgs!.split(' ').filter(Boolean),
      print,
    });
  });

program
  .command('fuse')
  .description('through a FUSE mount: dd write/read of one file (1 MiB blocks), create/stat/unlink of many files')
  .option('--size <size>', 'bytes of the dd file', '1GiB')
  .option('--files <n>', 'files created, stat-ed and unlinked', '10000')
  .option('--runs <n>', 'runs (medians reported)', '3')
  .option('--vs <peer>', 'also measure a peer in the same run: moosefs')
  .action(async (opts: Record<string, string | undefined>) => {
    if (opts.vs !== undefined && opts.vs !== 'moosefs') throw new Error(`--vs knows only moosefs, not ${opts.vs}`);
    await runFuseBench({
      fileBytes: parseSize(opts.size!),
      files: positive(opts.files!, 'files'),
      runs: positive(opts.runs!, 'runs'),
      vsMoosefs: opts.vs === 'moosefs',
      print,
    });
  });

program
  .command('vs-moosefs')
  .description('the performance issue\'s table: ours and the MooseFS peer one after the other (client library, dd, fio, metadata, appends, CPU, memory) and this machine\'s disk and loopback; also `--vs moosefs`')
  .option('--size <size>', 'bytes of the sequential file (client library and dd)', '2GiB')
  .option('--fio-size <size>', 'bytes of the file read at random by fio', '1GiB')
  .option('--fio-seconds <s>', 'length of each fio run', '10')
  .option('--files <n>', 'files created, stat-ed and unlinked through each mount', '10000')
  .option('--runs <n>', 'runs of every workload (medians reported)', '3')
  .option('--appenders <n>', 'concurrent appenders (clients, or processes on MooseFS)', '8')
  .option('--appends <n>', '1 KiB records per appender', '250')
  .option('--disk-size <size>', 'bytes written to the local disk with O_DIRECT', '1GiB')
  .option('--loopback-seconds <s>', 'length of the loopback TCP stream', '3')
  .option('--meta-files <n>', 'files of 2 chunks loaded into a master state machine for its memory', '1000000')
  .option('--masters <n>', 'our masters (a Raft group)', '3')
  .option('--node-args <args>', 'extra node arguments for our servers and mount, e.g. "--cpu-prof --cpu-prof-dir=prof"', '')
  .option('--insecure', 'our cluster in plaintext with no authentication, as MooseFS runs (by default: mutual TLS)', false)
  .action(async (opts: Record<string, string | boolean>) => {
    await runVsMoosefsBench({
      fileBytes: parseSize(String(opts.size)),
      fioFileBytes: parseSize(String(opts.fioSize)),
      fioSeconds: positive(String(opts.fioSeconds), 'fio-seconds'),
      files: positive(String(opts.files), 'files'),
      runs: positive(String(opts.runs), 'runs'),
      appenders: positive(String(opts.appenders), 'appenders'),
      appendsPerClient: positive(String(opts.appends), 'appends'),
      diskBytes: parseSize(String(opts.diskSize)),
      loopbackSeconds: positive(String(opts.loopbackSeconds), 'loopback-seconds'),
      metaFiles: positive(String(opts.metaFiles), 'meta-files'),
      masters: positive(String(opts.masters), 'masters'),
      nodeArgs: String(opts.nodeArgs).split(' ').filter(Boolean),
      insecure: opts.insecure === true,
      print,
      // The machine is shared: the load average on every progress line shows a run that others disturbed.
      log: (line) => process.stderr.write(`# ${line} [load ${loadavg()[0]!.toFixed(2)}]\n`),
    });
  });

program
  .command('distribution')
  .description('one file from h0 to every host of a shaped network of namespaces (setrep all), then a 10% append; --vs bittorrent for the baseline')
  .option('--hosts <n>', 'hosts, one chunkserver each (the master runs on h0)', '8')
  .option('--rate <rate>', 'every host link, both ways, in tc syntax', '100mbit')
  .option('--size <size>', 'bytes of the distributed file', '256MiB')
  .option('--chunk-size <size>', 'chunk size', '64MiB')
  .option('--runs <n>', 'runs (medians reported)', '1')
  .option('--append-pct <pct>', 'then append this percentage of the file and measure the increment', '10')
  .option('--poll-ms <ms>', 'how often the leader is asked where the chunks are', '200')
  .option('--vs <peer>', 'also measure a peer in the same run: bittorrent')
  .option('--log-level <level>', 'the servers\' log level', 'warn')
  .option('--keep', 'keep the work directory (data, server logs)')
  .action(async (opts: Record<string, string | undefined>) => {
    if (opts.vs !== undefined && opts.vs !== 'bittorrent') throw new Error(`--vs knows only bittorrent, not ${opts.vs}`);
    const appendPct = Number(opts.appendPct);
    if (!(appendPct > 0 && appendPct <= 100)) throw new Error(`--append-pct must be above 0 and at most 100, got ${opts.appendPct}`);
    await runDistributionBench({
      hosts: positive(opts.hosts!, 'hosts'),
      rate: opts.rate!,
      fileBytes: parseSize(opts.size!),
      chunkSizeBytes: parseSize(opts.chunkSize!),
      runs: positive(opts.runs!, 'runs'),
      appendPct,
      vsBittorrent: opts.vs === 'bittorrent',
      pollMs: positive(opts.pollMs!, 'poll-ms'),
      serverLogLevel: opts.logLevel!,
      keepDir: opts.keep !== undefined,
      print,
      log: (line) => process.stderr.write(`# ${line}\n`),
    });
  });

program
  .command('distribution-sim')
  .description('the master\'s distribution planner driven by a discrete-event network model (fluid flows, agents, heartbeats, crashes, joins)')
  .option('--nodes <list>', 'fleet sizes, comma-separated', '100,1000,10000')
  .option('--size <size>', 'bytes of the distributed file', '10GiB')
  .option('--rate <rate>', 'every node\'s uplink and downlink, in tc syntax', '1gbit')
  .option('--seed <n>', 'one seed, one run', '1')
  .option('--failures <fraction>', 'fraction of the nodes that crash, at random times within the first F/B', '0')
  .option('--joins <n>', 'empty nodes that join, at random times within the first F/B', '0')
  .option('--fanout <k>', 'children per interior node per chunk, and stripes', '2')
  .option('--downloads <d>', 'fetches each agent runs at once', '2')
  .option('--origins <n>', 'holders of the whole file at the start', '1')
  .option('--distribute-in-flight <n>', 'Distribute calls the master has in flight (0: all land at once); the manager\'s default', '64')
  .option('--await-task-ms <ms>', 'how long a source without a task for the chunk keeps a follower waiting for one; the data service\'s', '2000')
  .action((opts: Record<string, string>) => {
    const failures = Number(opts.failures);
    if (!(failures >= 0 && failures < 1)) throw new Error(`--failures must be a fraction in [0, 1), got ${opts.failures}`);
    runDistributionSimBench({
      nodes: opts.nodes!.split(',').map((n) => positive(n.trim(), 'nodes')),
      fileBytes: parseSize(opts.size!),
      rateBitsPerS: parseRate(opts.rate!),
      seed: positive(opts.seed!, 'seed'),
      failures,
      joins: nonNegative(opts.joins!, 'joins'),
      fanout: positive(opts.fanout!, 'fanout'),
      downloadsMax: positive(opts.downloads!, 'downloads'),
      origins: positive(opts.origins!, 'origins'),
      distributeInFlight: nonNegative(opts.distributeInFlight!, 'distribute-in-flight'),
      awaitTaskS: nonNegative(opts.awaitTaskMs!, 'await-task-ms') / 1000,
      print,
      log: (line) => process.stderr.write(`# ${line}\n`),
    });
  });

function nonNegative(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

function positive(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

/**
 * `bench --vs moosefs [options]`, as the performance issue names it, is the
 * vs-moosefs command: commander has no command named by an option, so the
 * two leading words are rewritten before it parses (`fuse --vs moosefs`,
 * an option of another command, is left alone).
 */
function withVsAlias(argv: readonly string[]): string[] {
  const [node, script, first, second, ...rest] = argv;
  if (first === '--vs' && second === 'moosefs') return [node!, script!, 'vs-moosefs', ...rest];
  if (first === '--vs=moosefs') return [node!, script!, 'vs-moosefs', ...(second === undefined ? [] : [second]), ...rest];
  return [...argv];
}

program.parseAsync(withVsAlias(process.argv)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
