import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sleep } from '../common/backoff.js';
import { DfsError } from '../common/errors.js';
import { LOG_LEVELS } from '../common/logger.js';
import { DfsClient } from '../client-lib/index.js';
import { readClusterFile, writeClusterFile, type ClusterFile, type ClusterProcess } from './cluster-file.js';
import { isAlive, isOurProcess, launch, terminate } from './process-launcher.js';
import { parseSize } from './size.js';
import type { ClientSecurity } from '../client-lib/client-options.js';
import { ensureClusterCredentials, type ClusterCredentials } from './cluster-credentials.js';
import type { Output } from './output.js';

export interface ClusterStartOptions {
  dir: string;
  masters: number;
  chunkservers: number;
  chunkSizeBytes: number;
  detach: boolean;
  /** Extra flags for every master (tests shorten timeouts with these). */
  masterArgs?: string[];
  chunkserverArgs?: string[];
  /** Zone and rack of chunkserver i. */
  labels?: (i: number) => { zone: string; rack: string };
  readyTimeoutMs?: number;
  /** Extra arguments for node in every process (profiling). */
  nodeArgs?: string[];
  /**
   * Where process i of a role runs: the address it listens on (default
   * 127.0.0.1) and a command to run it under (a network namespace, for tests
   * that put each process on its own host).
   */
  placement?: (role: ClusterProcess['role'], index: number) => { host: string; wrapper?: string[] };
  /** Plaintext, no authentication; by default the cluster gets its own CA and mutual TLS (DIR/security). */
  insecure?: boolean;
}

/**
 * Starts (or restarts, or grows) a local cluster in `dir`: masters first,
 * then chunkservers pointed at them. Processes already running from an
 * earlier start are left alone; stopped ones come back on their old data and
 * ports. Asking for more processes than the cluster has adds new ones (on
 * free ports, in new data directories); asking for fewer removes none.
 * Returns once the cluster accepts writes.
 */
export async function startCluster(options: ClusterStartOptions): Promise<ClusterFile> {
  if (!Number.isInteger(options.masters) || options.masters < 1 || options.masters % 2 === 0) {
    throw new DfsError('INVALID_ARGUMENT', 'the number of masters must be odd (1, 3, 5, ...): a Raft group needs a majority');
  }
  // Zero chunkservers is a metadata-only cluster: namespace work needs none.
  if (!Number.isInteger(options.chunkservers) || options.chunkservers < 0) {
    throw new DfsError('INVALID_ARGUMENT', `the number of chunkservers must be a whole number, not ${options.chunkservers}`);
  }
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const previous = await readClusterFile(dir);
  if (previous !== undefined && 'insecure' in previous.security !== (options.insecure ?? false)) {
    throw new DfsError('INVALID_ARGUMENT', `the cluster in ${dir} runs ${'insecure' in previous.security ? 'plaintext' : 'with TLS'}: start it the same way`);
  }
  const credentials = options.insecure ? undefined : await ensureClusterCredentials(dir);
  const launcher = new ClusterLauncher(dir, options, previous, credentials);
  try {
    return await launcher.bringUp();
  } catch (err) {
    // Whatever this call started is stopped again rather than left behind.
    await Promise.all(launcher.launchedNow.map((pid) => terminate(pid, 5_000)));
    throw err;
  }
}

/** One `startCluster` call: which processes run, which it had to start. */
class ClusterLauncher {
  readonly launchedNow: number[] = [];
  private readonly processes: ClusterProcess[] = [];
  private readonly old: Map<string, ClusterProcess>;

  constructor(
    private readonly dir: string,
    private readonly options: ClusterStartOptions,
    private readonly previous: ClusterFile | undefined,
    private readonly credentials: ClusterCredentials | undefined,
  ) {
    this.old = new Map((previous?.processes ?? []).map((p) => [p.name, p]));
  }

  private get security(): ClientSecurity {
    return this.credentials === undefined ? { insecure: true } : { tlsDir: this.credentials.admin };
  }

  /** The flag that secures a process of `role`. */
  private securityArgs(role: ClusterProcess['role']): string[] {
    return this.credentials === undefined ? ['--insecure'] : ['--tls-dir', this.credentials[role]];
  }

  async bringUp(): Promise<ClusterFile> {
    const { options } = this;
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const masterRecords = await settleAll(
      Array.from({ length: this.count('master', options.masters) }, (_, i) => this.ensure('master', i, '', '', this.masterArgs(i))),
    );
    const masters = masterRecords.map((m) => m.address);
    await ensureMembership(masters, this.security, masterRecords, timeoutMs);
    const chunkservers = this.count('chunkserver', options.chunkservers);
    await settleAll(
      Array.from({ length: chunkservers }, (_, i) => {
        const { zone, rack } = options.labels?.(i) ?? { zone: 'default', rack: 'default' };
        return this.ensure('chunkserver', i, zone, rack, [
          '--masters', masters.join(','), '--zone', zone, '--rack', rack, ...this.securityArgs('chunkserver'), ...(options.chunkserverArgs ?? []),
        ]);
      }),
    );
    const dashboard = dashboardUrl(masterRecords[0]!);
    const file: ClusterFile = {
      version: 1, masters, chunkSizeBytes: options.chunkSizeBytes, ...(dashboard !== undefined ? { dashboard } : {}), security: this.security, processes: this.processes,
    };
    await writeClusterFile(this.dir, file);
    await waitUntilWritable(masters, this.security, chunkservers, timeoutMs);
    return file;
  }

  /** How many processes of `role` to run: as many as asked, but never fewer than an earlier start left (those stay untouched). */
  private count(role: ClusterProcess['role'], asked: number): number {
    const before = (this.previous?.processes ?? []).filter((p) => p.role === role).length;
    return Math.max(asked, before);
  }

  /**
   * The first master of a new cluster starts a group of one; every other
   * master, and every master of an existing cluster, joins what exists.
   */
  private masterArgs(i: number): string[] {
    return [
      '--raft-id', `master-${i}`,
      ...(i === 0 && this.previous === undefined ? [] : ['--join']),
      '--chunk-size', String(this.options.chunkSizeBytes),
      ...this.securityArgs('master'),
      ...(this.options.masterArgs ?? []),
    ];
  }

  /** Leaves a process of an earlier start running, or starts it on its old data and port. */
  private async ensure(role: ClusterProcess['role'], index: number, zone: string, rack: string, args: string[]): Promise<ClusterProcess> {
    const { options } = this;
    const name = `${role}-${index}`;
    const dataDir = join(this.dir, name);
    const place = options.placement?.(role, index) ?? { host: '127.0.0.1' };
    const before = this.old.get(name);
    if (before !== undefined && isAlive(before.pid) && isOurProcess(before.pid, dataDir)) {
      this.processes.push(before);
      return before;
    }
    await mkdir(dataDir, { recursive: true });
    const launched = await launch({
      role,
      args: ['--data-dir', dataDir, '--host', place.host, '--port', String(before?.port ?? 0), '--http-port', String(before?.httpPort ?? 0), ...args],
      readyFile: join(dataDir, 'ready.json'),
      logFile: join(dataDir, `${role}.log`),
      detached: options.detach,
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
      ...(place.wrapper ? { wrapper: place.wrapper } : {}),
    });
    this.launchedNow.push(launched.pid);
    const record: ClusterProcess = {
      role, name, dataDir, address: launched.address, port: launched.port, ...(launched.httpPort !== undefined ? { httpPort: launched.httpPort } : {}), pid: launched.pid, logFile: launched.logFile, zone, rack,
    };
    this.processes.push(record);
    return record;
  }
}

/** The dashboard a master serves at the root of its HTTP port, if it serves HTTP. */
function dashboardUrl(master: ClusterProcess): string | undefined {
  if (master.httpPort === undefined) return undefined;
  // The address is host:port (an IPv6 host comes bracketed), so the host is what precedes the last colon.
  const host = master.address.slice(0, master.address.lastIndexOf(':'));
  return `http://${host}:${master.httpPort}/`;
}

/** Like Promise.all, but waits for every launch to finish before reporting a failure, so none is missed by the cleanup. */
async function settleAll<T>(launches: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(launches);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Adds every master that is not yet a voting member of the group (a new cluster, or one that grew). */
async function ensureMembership(masters: string[], security: ClientSecurity, records: ClusterProcess[], timeoutMs: number): Promise<void> {
  if (records.length === 1) return;
  const client = await DfsClient.connect({ masters, security, retry: { deadlineMs: timeoutMs } });
  try {
    const status = await client.raftStatus();
    const voters = new Set(status.members.filter((m) => m.role === 'voter').map((m) => m.id));
    for (const record of records) {
      if (!voters.has(record.name)) await client.addMaster(record.address);
    }
  } finally {
    client.close();
  }
}

/** Waits until every chunkserver is registered and the master grants leases. */
export async function waitUntilWritable(masters: string[], security: ClientSecurity, chunkservers: number, timeoutMs: number): Promise<void> {
  const client = await DfsClient.connect({ masters, security, retry: { deadlineMs: timeoutMs } });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const health = await client.clusterHealth();
      if (health.liveChunkservers >= chunkservers && health.acceptingLeases) return;
      if (Date.now() > deadline) {
        throw new DfsError('TIMEOUT', `cluster not writable: ${health.liveChunkservers}/${chunkservers} chunkservers, leases ${health.acceptingLeases ? 'on' : 'off'}`);
      }
      await sleep(100);
    }
  } finally {
    client.close();
  }
}

/** Stops every process of the cluster in `dir` (chunkservers first) and waits until they are gone. */
export async function stopCluster(dir: string): Promise<ClusterProcess[]> {
  const file = await readClusterFile(resolve(dir));
  if (file === undefined) throw new DfsError('NOT_FOUND', `no cluster in ${resolve(dir)} (no cluster.json)`);
  const ours = file.processes.filter((p) => isAlive(p.pid) && isOurProcess(p.pid, p.dataDir));
  await Promise.all(ours.filter((p) => p.role === 'chunkserver').map((p) => terminate(p.pid)));
  await Promise.all(ours.filter((p) => p.role === 'master').map((p) => terminate(p.pid)));
  return ours;
}

export function addClusterCommands(program: Command, output: Output): void {
  const cluster = program.command('cluster').description('run a local cluster');
  cluster
    .command('start')
    .description('start a local cluster (or restart the stopped processes of an existing one)')
    .option('--dir <dir>', 'cluster directory', './data')
    .option('--masters <n>', 'number of masters (odd)', '3')
    .option('--chunkservers <n>', 'number of chunkservers; on an existing cluster, grows it to N (never shrinks it)', '3')
    .option('--chunk-size <size>', 'chunk size of a new cluster', '64MiB')
    .option('--detach', 'return once the cluster accepts writes, leaving it running', false)
    .option('--log-level <level>', 'log level of every process it starts: debug, info, warn, error or silent (default info)')
    .option('--insecure', 'plaintext with no authentication (by default the cluster gets its own CA and mutual TLS in DIR/security)', false)
    .action(async (opts: { dir: string; masters: string; chunkservers: string; chunkSize: string; detach: boolean; logLevel?: string; insecure: boolean }) => {
      const level = opts.logLevel;
      if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
        throw new DfsError('INVALID_ARGUMENT', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
      }
      const logArgs = level === undefined ? [] : ['--log-level', level];
      const file = await startCluster({
        dir: opts.dir,
        masters: Number(opts.masters),
        chunkservers: Number(opts.chunkservers),
        chunkSizeBytes: parseSize(opts.chunkSize),
        detach: opts.detach,
        masterArgs: logArgs,
        chunkserverArgs: logArgs,
        insecure: opts.insecure,
      });
      output.result(file, () =>
        [
          `cluster running in ${resolve(opts.dir)}`,
          ...file.processes.map((p) => `  ${p.name.padEnd(14)} ${p.address.padEnd(22)} pid ${p.pid}  log ${p.logFile}`),
          ...(file.dashboard !== undefined ? [`dashboard: ${file.dashboard}`] : []),
          'tlsDir' in file.security ? `credentials: ${resolve(opts.dir, 'security')} (the CLI uses admin/ from this directory; mounts use mount/)` : 'plaintext, no authentication (--insecure)',
          opts.detach ? `stop it with: dfs cluster stop --dir ${opts.dir}` : 'press Ctrl-C to stop',
        ].join('\n'),
      );
      if (!opts.detach) await runInForeground(file);
    });
  cluster
    .command('stop')
    .description('stop the local cluster in DIR')
    .option('--dir <dir>', 'cluster directory', './data')
    .action(async (opts: { dir: string }) => {
      const stopped = await stopCluster(opts.dir);
      output.result({ stopped: stopped.map((p) => p.name) }, () => `stopped ${stopped.length} processes`);
    });
}

/** Stays until Ctrl-C or SIGTERM, then stops the cluster's processes. */
async function runInForeground(file: ClusterFile): Promise<void> {
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      void Promise.all(file.processes.map((p) => terminate(p.pid))).then(() => resolveStop());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
