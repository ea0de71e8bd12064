import * as grpc from '@grpc/grpc-js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsClient, type DfsClientOptions } from '../../client-lib/index.js';
import { startCluster, waitUntilWritable, type ClusterStartOptions } from '../../cli/cluster-commands.js';
import type { ClusterFile, ClusterProcess } from '../../cli/cluster-file.js';
import { isAlive, terminate } from '../../cli/process-launcher.js';
import { sleep } from '../../common/backoff.js';
import type { ClientSecurity } from '../../client-lib/client-options.js';
import { clusterCredentialDirs } from '../../cli/cluster-credentials.js';
import { CA_FILES } from '../../security/cert-authority.js';
import { CREDENTIAL_FILES } from '../../security/credentials-dir.js';
import { IdentityTokens } from '../../security/identity-token.js';
import { parseClusterSecret } from '../../security/token-keys.js';
import { channelCredentials, PLAINTEXT } from '../../security/transport-security.js';

/** Timeouts short enough for tests to see failures handled within seconds. */
export const FAST_MASTER_ARGS = [
  '--lease-duration-ms', '3000',
  '--heartbeat-interval-ms', '300',
  '--chunkserver-timeout-ms', '1500',
  '--replication-interval-ms', '200',
  '--gc-interval-ms', '500',
  '--log-level', 'debug',
];

/** A user a test acts as: its name and the ids the master checks permissions with. */
export interface TestUser {
  user: string;
  uid: number;
  gid: number;
  groups?: number[];
}

/** Who a test connects as: a cluster role (a mount speaks for local users), a user, or no one (no certificate, no token). */
export type TestIdentity = 'admin' | 'master' | 'chunkserver' | 'mount' | 'anonymous' | TestUser;

export interface TestClusterOptions {
  /** Masters in the Raft group (odd); 1 by default, which starts fastest. */
  masters?: number;
  chunkservers?: number;
  chunkSizeBytes?: number;
  masterArgs?: string[];
  chunkserverArgs?: string[];
  labels?: (i: number) => { zone: string; rack: string };
  /** Per-process host and wrapper (network namespaces); see ClusterStartOptions.placement. */
  placement?: ClusterStartOptions['placement'];
  /** Plaintext without authentication; by default the cluster runs mutual TLS with its own CA, as `dfs cluster start` does. */
  insecure?: boolean;
}

const everyPid = new Set<number>();
// A crashed or interrupted test run must not leave servers behind: signals
// exit through process.exit, so the 'exit' hook below runs for them too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
process.on('exit', () => {
  for (const pid of everyPid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * A real cluster for one test file: master and chunkserver processes on
 * loopback ports chosen by the kernel, in a fresh temporary directory, each
 * logging to its own file. Kill them for real, restart them on their data,
 * and stop() removes everything (keep the directory with KEEP_TEST_DIRS=1,
 * or keep() for one cluster, e.g. after a failed test).
 */
export class TestCluster {
  private clients: DfsClient[] = [];
  private keepDir = false;

  private constructor(
    readonly dir: string,
    private file: ClusterFile,
    private readonly options: Required<Omit<TestClusterOptions, 'labels' | 'placement' | 'insecure'>> & Pick<TestClusterOptions, 'labels' | 'placement' | 'insecure'>,
  ) {}

  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'dfs-test-'));
    const full = {
      masters: options.masters ?? 1,
      chunkservers: options.chunkservers ?? 3,
      chunkSizeBytes: options.chunkSizeBytes ?? 1024 * 1024,
      masterArgs: options.masterArgs ?? FAST_MASTER_ARGS,
      chunkserverArgs: options.chunkserverArgs ?? ['--scrub-interval-ms', '0', '--log-level', 'debug'],
      labels: options.labels,
      placement: options.placement,
      insecure: options.insecure,
    };
    const cluster = new TestCluster(dir, undefined as unknown as ClusterFile, full);
    try {
      await cluster.startMissing();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Starts every process that is not running (all of them at first), on its old data and port. */
  async startMissing(): Promise<void> {
    this.file = await startCluster({
      dir: this.dir,
      masters: this.options.masters,
      chunkservers: this.options.chunkservers,
      chunkSizeBytes: this.options.chunkSizeBytes,
      detach: false,
      masterArgs: this.options.masterArgs,
      chunkserverArgs: this.options.chunkserverArgs,
      ...(this.options.labels ? { labels: this.options.labels } : {}),
      ...(this.options.placement ? { placement: this.options.placement } : {}),
      ...(this.options.insecure ? { insecure: true } : {}),
      readyTimeoutMs: 30_000,
    });
    for (const p of this.file.processes) everyPid.add(p.pid);
  }

  get masters(): string[] {
    return this.file.masters;
  }

  get chunkSizeBytes(): number {
    return this.options.chunkSizeBytes;
  }

  process(name: string): ClusterProcess {
    const p = this.file.processes.find((q) => q.name === name);
    if (p === undefined) throw new Error(`no process ${name}`);
    return p;
  }

  chunkservers(): ClusterProcess[] {
    return this.file.processes.filter((p) => p.role === 'chunkserver');
  }

  /** The chunkserver's stable id (its replicas are known by it). */
  async serverId(name: string): Promise<string> {
    return (await readFile(join(this.process(name).dataDir, 'server-id'), 'utf8')).trim();
  }

  /**
   * A client acting as `who`: by default the cluster's admin (uid 0), or,
   * when the options name a caller, a mount, the one identity the master
   * lets speak for callers.
   */
  async client(options: Partial<DfsClientOptions> = {}, who: TestIdentity = options.caller !== undefined ? 'mount' : 'admin'): Promise<DfsClient> {
    const client = await DfsClient.connect({ masters: this.masters, security: this.security(who), ...options });
    this.clients.push(client);
    return client;
  }

  /** gRPC channel credentials that authenticate as `who` to this cluster's masters and chunkservers. */
  channelCredentials(who: TestIdentity = 'admin'): grpc.ChannelCredentials {
    if (this.options.insecure) return channelCredentials(PLAINTEXT);
    const dir = this.credentialsDir(who);
    const read = (name: string): Buffer | undefined => {
      try {
        return readFileSync(join(dir, name));
      } catch {
        return undefined;
      }
    };
    const certificate = read(CREDENTIAL_FILES.certificate);
    const key = read(CREDENTIAL_FILES.key);
    return channelCredentials({
      kind: 'tls',
      credentials: {
        dir,
        ca: read(CREDENTIAL_FILES.ca)!,
        identity: certificate !== undefined && key !== undefined ? { certificate, key } : undefined,
        secret: undefined,
        token: read(CREDENTIAL_FILES.token)?.toString('utf8').trim(),
      },
    });
  }

  /** The CLI flags that make a `dfs` command (a mount, say) act as `who`. */
  securityArgs(who: TestIdentity = 'admin'): string[] {
    return this.options.insecure ? ['--insecure'] : ['--tls-dir', this.credentialsDir(who)];
  }

  /** How a client acting as `who` reaches the cluster (DfsClientOptions.security). */
  security(who: TestIdentity = 'admin'): ClientSecurity {
    return this.options.insecure ? { insecure: true } : { tlsDir: this.credentialsDir(who) };
  }

  /**
   * A credentials directory for `who`, for --tls-dir: the cluster's own for
   * its roles; for a user, a bearer token signed with the cluster secret
   * (the way a user without a certificate connects); for no one, the CA's
   * certificate alone.
   */
  credentialsDir(who: TestIdentity = 'admin'): string {
    const dirs = clusterCredentialDirs(this.dir);
    if (who === 'admin' || who === 'master' || who === 'chunkserver' || who === 'mount') return dirs[who];
    const name = who === 'anonymous' ? 'anonymous' : `user-${who.user}`;
    const dir = join(this.dir, 'security', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CREDENTIAL_FILES.ca), readFileSync(join(dirs.ca, CA_FILES.certificate)));
    if (who !== 'anonymous') {
      const secret = parseClusterSecret(readFileSync(join(dirs.ca, CA_FILES.secret), 'utf8'), dirs.ca);
      const identity = { name: who.user, role: 'user' as const, uid: who.uid, gid: who.gid, groups: who.groups ?? [] };
      writeFileSync(join(dir, CREDENTIAL_FILES.token), new IdentityTokens(secret).mint(identity, Date.now() + 24 * 3_600_000) + '\n', { mode: 0o600 });
    }
    return dir;
  }

  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    process.kill(this.process(name).pid, signal);
  }

  async killAndWait(name: string): Promise<void> {
    const { pid } = this.process(name);
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(10);
  }

  /** Adds chunkservers (chunkserver-N on, with empty data dirs) until there are `count`; waits until all are registered. */
  async growChunkservers(count: number): Promise<void> {
    this.options.chunkservers = count;
    await this.startMissing();
  }

  /** Restarts whatever is down and waits until the cluster accepts writes again. */
  async restart(): Promise<void> {
    await this.startMissing();
    await waitUntilWritable(this.masters, this.security(), this.options.chunkservers, 30_000);
  }

  /** The end of a process's log, for assertion messages. */
  logTail(name: string, lines = 40): string {
    try {
      return readFileSync(this.process(name).logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Keeps the directory (every process's log and data) past stop(), which prints where: for a failed test. */
  keep(): void {
    this.keepDir = true;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    this.clients = [];
    await Promise.all((this.file?.processes ?? []).map((p) => terminate(p.pid, 5_000)));
    for (const p of this.file?.processes ?? []) everyPid.delete(p.pid);
    if (this.keepDir) console.error(`kept the cluster's directory ${this.dir}`);
    else if (process.env.KEEP_TEST_DIRS !== '1') await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await sleep(50);
  }
}
