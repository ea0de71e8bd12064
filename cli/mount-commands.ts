import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DfsClient } from '../client-lib/index.js';
import { DfsError } from '../common/errors.js';
import { HttpServer } from '../common/http-server.js';
import { createLogger, type Logger, type LogLevel } from '../common/logger.js';
import { createMetricsRegistry, serveMetrics } from '../common/metrics.js';
import { writeReadyFile } from '../common/ready-file.js';
import { DEFAULT_MOUNT_OPTIONS, DfsFileSystem, type DfsMountOptions } from '../fuse/dfs-file-system.js';
import type { FileSystem } from '../fuse/file-system.js';
import { FuseSession, threadPoolSizeFromEnv } from '../fuse/fuse-session.js';
import { meterFileSystem } from '../fuse/metered-file-system.js';
import { unmount } from '../fuse/mount-point.js';
import { findCluster } from './cluster-address.js';
import type { ClientSecurity } from '../client-lib/client-options.js';
import { Settings, type FlagValues } from './config-sources.js';
import type { Output } from './output.js';

/** Reads of /dev/fuse kept outstanding: requests the kernel can hand over at once. */
export const MOUNT_READERS = 4;

const MOUNT_KEYS = [
  'masters', 'tlsDir', 'insecure', 'attrTimeoutMs', 'entryTimeoutMs', 'readAhead', 'atime', 'localChunkservers', 'zone', 'rack', 'writebackCache',
  'metricsPort', 'metricsHost', 'logLevel', 'readyFile',
] as const;

export interface MountSettings {
  masters: string[];
  security: ClientSecurity;
  fs: DfsMountOptions;
  localChunkservers: string[] | undefined;
  zone: string | undefined;
  rack: string | undefined;
  writebackCache: boolean;
  /** Where to serve /metrics; undefined: no metrics. */
  metrics: { host: string; port: number } | undefined;
  logLevel: LogLevel;
  readyFile: string | undefined;
}

/** A mount's settings from its flags (`config`: the --config file), the environment and the defaults. */
export async function loadMountSettings(flags: FlagValues & { config?: string }, env: NodeJS.ProcessEnv, dir: string): Promise<MountSettings> {
  const s = Settings.load(MOUNT_KEYS, flags, env, flags.config);
  const d = DEFAULT_MOUNT_OPTIONS;
  const fail = (keys: string[], problem: string): never => {
    throw new DfsError('INVALID_ARGUMENT', `mount config: ${problem} (${s.describe(keys)})`);
  };
  const readAhead = s.size('readAhead') ?? d.readAheadSegmentBytes * d.readAheadSegments;
  const attrTimeoutMs = s.integer('attrTimeoutMs') ?? d.attrTimeoutMs;
  if (attrTimeoutMs < 0) fail(['attrTimeoutMs'], 'attrTimeoutMs must not be negative');
  const entryTimeoutMs = s.integer('entryTimeoutMs') ?? d.entryTimeoutMs;
  if (entryTimeoutMs < 0) fail(['entryTimeoutMs'], 'entryTimeoutMs must not be negative');
  const metricsPort = s.integer('metricsPort');
  if (metricsPort !== undefined && (metricsPort < 0 || metricsPort > 65535)) fail(['metricsPort'], `metricsPort ${metricsPort} is not a port`);
  const masters = s.list('masters');
  const target = await findCluster({ masters: masters?.join(','), tlsDir: s.string('tlsDir'), insecure: s.boolean('insecure') }, env, dir, 'mount');
  return {
    ...target,
    fs: {
      ...d,
      attrTimeoutMs,
      entryTimeoutMs,
      readAheadSegments: Math.ceil(readAhead / d.readAheadSegmentBytes),
      atime: s.oneOf('atime', ['relatime', 'noatime'] as const) ?? d.atime,
    },
    localChunkservers: s.list('localChunkservers'),
    zone: s.string('zone'),
    rack: s.string('rack'),
    writebackCache: s.boolean('writebackCache') ?? false,
    metrics: metricsPort === undefined ? undefined : { host: s.string('metricsHost') ?? '127.0.0.1', port: metricsPort },
    logLevel: s.logLevel() ?? 'info',
    readyFile: s.string('readyFile'),
  };
}

/** Chunkservers whose advertised host is an address of this machine (loopback aside: on one test machine everything is). */
async function localServerIds(client: DfsClient): Promise<string[]> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) own.add(a.address);
  }
  const servers = await client.listChunkservers();
  return servers
    .filter((s) => s.server !== null && own.has(s.server.address.slice(0, s.server.address.lastIndexOf(':'))))
    .map((s) => s.server!.id);
}

/** A short-lived client only for discovery: locality is fixed when the serving client is made. */
async function discoverLocalServerIds(masters: string[], security: ClientSecurity, logger: Logger): Promise<string[]> {
  const probe = await DfsClient.connect({ masters, security, logger });
  try {
    return await localServerIds(probe);
  } finally {
    probe.close();
  }
}

async function serveMount(mountPoint: string, settings: MountSettings, logger: Logger): Promise<void> {
  const serverIds = settings.localChunkservers ?? (await discoverLocalServerIds(settings.masters, settings.security, logger));
  const client = await DfsClient.connect({
    masters: settings.masters,
    security: settings.security,
    logger,
    locality: {
      serverIds,
      ...(settings.zone !== undefined ? { zone: settings.zone } : {}),
      ...(settings.rack !== undefined ? { rack: settings.rack } : {}),
    },
  });
  const registry = settings.metrics === undefined ? undefined : createMetricsRegistry({ processMetrics: true });
  const served = new DfsFileSystem(client, settings.fs, logger);
  const fs: FileSystem = registry === undefined ? served : meterFileSystem(served, registry);
  const http = settings.metrics === undefined ? undefined : await HttpServer.start(settings.metrics.host, settings.metrics.port, logger.child({ component: 'http' }));
  if (http !== undefined && registry !== undefined) serveMetrics(http, registry);
  const session = await FuseSession.mount(mountPoint, fs, {
    logger,
    writebackCache: settings.writebackCache,
    readers: MOUNT_READERS,
    // The kernel's own readahead of 1 MiB halves the CPU per GB of sequential reads (fuse-session.ts).
    maxReadaheadBytes: 1024 * 1024,
    threadPoolSize: threadPoolSizeFromEnv(process.env),
  });
  logger.info({ mountPoint, localChunkservers: serverIds, metricsPort: http?.port }, 'mounted');
  if (settings.readyFile !== undefined) {
    await writeReadyFile(settings.readyFile, { pid: process.pid, port: 0, address: mountPoint, ...(http ? { httpPort: http.port } : {}) });
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'unmounting');
    session.unmount().catch((err: unknown) => logger.error({ err: String(err) }, 'unmount failed'));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await session.closed;
  await http?.stop();
  client.close();
  logger.info({ mountPoint }, 'unmounted');
  process.exit(0);
}

export function addMountCommands(program: Command, output: Output, env: NodeJS.ProcessEnv): void {
  program
    .command('mount <mountpoint>')
    .description('mount the cluster with FUSE and serve it until SIGINT, SIGTERM or `dfs umount` (root only)')
    .option('--masters <list>', 'comma-separated master addresses (default: $DFS_MASTERS or ./cluster.json)')
    .option('--dir <dir>', 'a local cluster directory whose cluster.json names the masters', 'data')
    .option('--tls-dir <dir>', 'credentials of a mount identity, which may act for the local users (default: $DFS_TLS_DIR, or DIR/security/mount of a local cluster)')
    .option('--insecure', 'plaintext, for a cluster that runs --insecure')
    .option('--config <file>', 'JSON config file (keys as the long options, in camelCase)')
    .option('--attr-timeout-ms <ms>', `how long the kernel trusts attributes (default ${DEFAULT_MOUNT_OPTIONS.attrTimeoutMs})`)
    .option('--entry-timeout-ms <ms>', `how long the kernel trusts names (default ${DEFAULT_MOUNT_OPTIONS.entryTimeoutMs})`)
    .option('--read-ahead <size>', 'bytes fetched ahead of a sequential reader (default 8MiB; 0 turns it off)')
    .option('--atime <mode>', 'relatime (default, as Linux) or noatime')
    .option('--local-chunkservers <ids>', 'chunkserver ids on this node, read first (default: those advertising an address of this machine)')
    .option('--zone <zone>', 'this node\'s zone, for nearest-replica reads')
    .option('--rack <rack>', 'this node\'s rack, for nearest-replica reads')
    .option('--writeback-cache', 'let the kernel cache writes (faster small writes; other nodes see them only after close)')
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://HOST:PORT/metrics, 0 for any free port (default: none)')
    .option('--metrics-host <host>', 'interface for --metrics-port (default 127.0.0.1)')
    .option('--log-level <level>', 'debug, info, warn, error or silent (default info)')
    .option('--ready-file <file>', 'write {"pid","address","httpPort"} here once mounted')
    .action(async (mountpoint: string, opts: FlagValues & { config?: string; dir: string }) => {
      if (process.getuid?.() !== 0) throw new DfsError('NOT_PERMITTED', 'dfs mount needs root (it mounts through /dev/fuse itself)');
      const settings = await loadMountSettings(opts, env, opts.dir);
      const logger = createLogger('mount', settings.logLevel);
      await serveMount(resolve(mountpoint), settings, logger);
    });

  program
    .command('umount <mountpoint>')
    .alias('unmount')
    .description('unmount a dfs mount; its `dfs mount` process then exits (busy: --lazy detaches it now, it goes when unused)')
    .option('--lazy', 'detach even if busy', false)
    .action(async (mountpoint: string, opts: { lazy: boolean }) => {
      await unmount(resolve(mountpoint), { lazy: opts.lazy });
      output.result({ unmounted: resolve(mountpoint) }, () => `unmounted ${resolve(mountpoint)}`);
    });
}
