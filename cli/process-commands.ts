import type { Command } from 'commander';
import { createLogger, type Logger } from '../common/logger.js';
import { createMetricsRegistry } from '../common/metrics.js';
import { ChunkserverNode } from '../chunkserver/chunkserver-node.js';
import { CHUNKSERVER_DEFAULTS, validateChunkserverConfig, type ChunkserverConfig } from '../chunkserver/chunkserver-config.js';
import { MasterNode } from '../master/master-node.js';
import { MASTER_DEFAULTS, validateMasterConfig, type MasterConfig } from '../master/master-config.js';
import { Settings, type FlagValues } from './config-sources.js';
import { DfsError } from '../common/errors.js';

const MASTER_KEYS = [
  'host', 'port', 'httpPort', 'advertiseAddress', 'dataDir', 'raftId', 'peers', 'join', 'raftTickMs', 'raftElectionTicks', 'chunkSize', 'replication', 'leaseDurationMs', 'heartbeatIntervalMs',
  'chunkserverTimeoutMs', 'trashRetentionMs', 'sessionRetentionMs', 'replicationIntervalMs', 'gcIntervalMs',
  'snapshotEveryEntries', 'highWaterMark', 'balancerEnabled', 'balancerThresholdPct', 'balancerMaxConcurrent', 'distributionFanout', 'distributionLeaseIdleMs', 'hotChunkReadsPerS', 'hotChunkReplicasMax', 'hotChunkHalfLifeMs', 'chunkTokenTtlMs', 'tlsDir', 'insecure', 'logLevel', 'readyFile',
] as const;

const CHUNKSERVER_KEYS = [
  'host', 'port', 'httpPort', 'advertiseAddress', 'dataDir', 'masters', 'zone', 'rack', 'capacity', 'reserved', 'scrubIntervalMs', 'distributionDownloads', 'dropBehindWrites', 'tlsDir', 'insecure', 'logLevel', 'readyFile',
] as const;

/** Config fields whose setting has another name (the unit is implied on the command line). */
const SETTING_OF_FIELD: Record<string, string> = { chunkSizeBytes: 'chunkSize', defaultReplication: 'replication', capacityBytes: 'capacity', reservedBytes: 'reserved' };

function whence(settings: Settings): (fields: string[]) => string {
  return (fields) => settings.describe(fields.map((f) => SETTING_OF_FIELD[f] ?? f));
}

/** The settings every server process has (the options serverCommand declares before the role's own). */
function serverSettings(s: Settings, d: { host: string; port: number; httpPort: number }) {
  return {
    host: s.string('host') ?? d.host,
    port: s.integer('port') ?? d.port,
    httpPort: s.integer('httpPort') ?? d.httpPort,
    advertiseAddress: s.string('advertiseAddress'),
    dataDir: s.string('dataDir') ?? '',
    tlsDir: s.string('tlsDir'),
    insecure: s.boolean('insecure') ?? false,
  };
}

/** A master's config from its flags (`config`: the --config file), the environment and the defaults. */
export function loadMasterConfig(flags: FlagValues & { config?: string }, env: NodeJS.ProcessEnv): MasterConfig {
  const s = Settings.load(MASTER_KEYS, flags, env, flags.config);
  const d = MASTER_DEFAULTS;
  return validateMasterConfig(
    {
      ...serverSettings(s, d),
      raftId: s.string('raftId'),
      peers: parsePeers(s),
      join: s.boolean('join') ?? d.join,
      raftTickMs: s.integer('raftTickMs') ?? d.raftTickMs,
      raftElectionTicks: s.integer('raftElectionTicks') ?? d.raftElectionTicks,
      chunkSizeBytes: s.size('chunkSize') ?? d.chunkSizeBytes,
      defaultReplication: s.integer('replication') ?? d.defaultReplication,
      leaseDurationMs: s.integer('leaseDurationMs') ?? d.leaseDurationMs,
      heartbeatIntervalMs: s.integer('heartbeatIntervalMs') ?? d.heartbeatIntervalMs,
      chunkserverTimeoutMs: s.integer('chunkserverTimeoutMs') ?? d.chunkserverTimeoutMs,
      trashRetentionMs: s.integer('trashRetentionMs') ?? d.trashRetentionMs,
      sessionRetentionMs: s.integer('sessionRetentionMs') ?? d.sessionRetentionMs,
      replicationIntervalMs: s.integer('replicationIntervalMs') ?? d.replicationIntervalMs,
      gcIntervalMs: s.integer('gcIntervalMs') ?? d.gcIntervalMs,
      snapshotEveryEntries: s.integer('snapshotEveryEntries') ?? d.snapshotEveryEntries,
      highWaterMark: s.number('highWaterMark') ?? d.highWaterMark,
      balancerEnabled: s.boolean('balancerEnabled') ?? d.balancerEnabled,
      balancerThresholdPct: s.number('balancerThresholdPct') ?? d.balancerThresholdPct,
      balancerMaxConcurrent: s.integer('balancerMaxConcurrent') ?? d.balancerMaxConcurrent,
      distributionFanout: s.integer('distributionFanout') ?? d.distributionFanout,
      distributionLeaseIdleMs: s.integer('distributionLeaseIdleMs') ?? d.distributionLeaseIdleMs,
      hotChunkReadsPerS: s.number('hotChunkReadsPerS') ?? d.hotChunkReadsPerS,
      hotChunkReplicasMax: s.integer('hotChunkReplicasMax') ?? d.hotChunkReplicasMax,
      hotChunkHalfLifeMs: s.integer('hotChunkHalfLifeMs') ?? d.hotChunkHalfLifeMs,
      chunkTokenTtlMs: s.integer('chunkTokenTtlMs') ?? d.chunkTokenTtlMs,
      logLevel: s.logLevel() ?? d.logLevel,
      readyFile: s.string('readyFile'),
    },
    whence(s),
  );
}

/** A chunkserver's config from its flags (`config`: the --config file), the environment and the defaults. */
export function loadChunkserverConfig(flags: FlagValues & { config?: string }, env: NodeJS.ProcessEnv): ChunkserverConfig {
  const s = Settings.load(CHUNKSERVER_KEYS, flags, env, flags.config);
  const d = CHUNKSERVER_DEFAULTS;
  return validateChunkserverConfig(
    {
      ...serverSettings(s, d),
      masters: s.list('masters') ?? [],
      zone: s.string('zone') ?? d.zone,
      rack: s.string('rack') ?? d.rack,
      capacityBytes: s.size('capacity'),
      reservedBytes: s.size('reserved'),
      scrubIntervalMs: s.integer('scrubIntervalMs') ?? d.scrubIntervalMs,
      distributionDownloads: s.integer('distributionDownloads') ?? d.distributionDownloads,
      dropBehindWrites: s.boolean('dropBehindWrites') ?? d.dropBehindWrites,
      logLevel: s.logLevel() ?? d.logLevel,
      readyFile: s.string('readyFile'),
    },
    whence(s),
  );
}

/** "id=host:port,id=host:port" -> members. */
function parsePeers(s: Settings): { id: string; address: string }[] | undefined {
  return s.list('peers')?.map((item) => {
    const at = item.indexOf('=');
    if (at <= 0) throw new DfsError('INVALID_ARGUMENT', `peer ${JSON.stringify(item)} must be id=host:port (${s.describe(['peers'])})`);
    return { id: item.slice(0, at), address: item.slice(at + 1) };
  });
}

/** Runs a node until SIGINT or SIGTERM, then stops it cleanly. */
async function serve(start: () => Promise<{ stop(): Promise<void> }>, logger: Logger): Promise<void> {
  const node = await start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** A server command with the options every server process shares; `role` options go between. */
function serverCommand(
  program: Command,
  name: string,
  description: string,
  defaults: { host: string; port: number; httpPort: number },
  dataDir: string,
  roleOptions: (command: Command) => Command,
): Command {
  const command = program
    .command(name)
    .description(description)
    .option('--config <file>', 'JSON config file (keys as the long options, in camelCase)')
    .option('--host <host>', `interface to listen on (default ${defaults.host})`)
    .option('--port <port>', `port to listen on, 0 for any free one (default ${defaults.port})`)
    .option('--http-port <port>', `HTTP port for /metrics and /healthz, 0 for any free one, -1 for none (default ${defaults.httpPort})`)
    .option('--advertise-address <host:port>', 'address others reach this process at (default host:port)')
    .option('--data-dir <dir>', `${dataDir} (required)`)
    .option('--tls-dir <dir>', 'credentials directory (ca.pem, cert.pem, key.pem, cluster-secret; dfs security issue): mutual TLS, authentication, access tokens')
    .option('--insecure', 'plaintext gRPC, no authentication, callers trusted as they claim (instead of --tls-dir)');
  return roleOptions(command)
    .option('--log-level <level>', 'debug, info, warn, error or silent (default info)')
    .option('--ready-file <file>', 'write {"pid","port","httpPort","address"} here once serving');
}

export function addProcessCommands(program: Command, env: NodeJS.ProcessEnv): void {
  serverCommand(program, 'master', 'run one master process', MASTER_DEFAULTS, 'where the log and snapshots live', (c) =>
    c
      .option('--raft-id <id>', 'this master\'s id in the Raft group (default: a UUID, kept in DATA_DIR/raft-id)')
      .option('--peers <list>', 'members of a new group, id=host:port,... including this one (default: a group of one)')
      .option('--join', 'start empty and wait to be added (dfs admin raft add)')
      .option('--raft-tick-ms <ms>', 'Raft tick (default 50)')
      .option('--raft-election-ticks <n>', 'ticks without a leader before an election, randomised up to twice (default 10)')
      .option('--chunk-size <size>', 'chunk size of a new cluster, e.g. 64MiB (default 64MiB)')
      .option('--replication <n>', 'default replicas per chunk (default 3)')
      .option('--lease-duration-ms <ms>', 'chunk lease duration (default 10000)')
      .option('--heartbeat-interval-ms <ms>', 'chunkserver heartbeat interval (default 2000)')
      .option('--chunkserver-timeout-ms <ms>', 'a chunkserver silent this long is dead (default 10000)')
      .option('--trash-retention-ms <ms>', 'how long deleted files stay in the trash (default 3600000)')
      .option('--session-retention-ms <ms>', 'how long idle client sessions are remembered (default 3600000)')
      .option('--replication-interval-ms <ms>', 'how often re-replication runs (default 500)')
      .option('--gc-interval-ms <ms>', 'how often orphaned replicas are collected (default 5000)')
      .option('--snapshot-every-entries <n>', 'log entries between snapshots (default 20000)')
      .option('--high-water-mark <fraction>', 'no chunkserver is filled above this fraction of its capacity (default 0.9)')
      .option('--balancer-enabled', 'rebalance in the background (default off)')
      .option('--balancer-threshold-pct <pct>', 'the background balancer moves replicas once a server is this many points from the mean use (default 10)')
      .option('--balancer-max-concurrent <n>', 'moves the background balancer runs at once (default 1)')
      .option('--hot-chunk-reads-per-s <n>', 'read calls per second on a chunk that earn it one more replica; 0 turns hot-chunk replication off (default 200)')
      .option('--hot-chunk-replicas-max <n>', 'most replicas read heat alone may give a chunk (default 10)')
      .option('--hot-chunk-half-life-ms <ms>', 'read heat halves in this long without reads (default 20000)')
      .option('--distribution-lease-idle-ms <ms>', 'a lease on a chunk of a file with replication "all" is given up after this long without writes, so that distribution starts; 0 holds it until it ends (default 500)')
      .option('--distribution-fanout <n>', 'children per node in the trees that spread files with replication "all" (default 2)')
      .option('--chunk-token-ttl-ms <ms>', 'how long a chunk access token stays good (default 600000)'),
  ).action(async (opts: FlagValues & { config?: string }) => {
    const config = loadMasterConfig(opts, env);
    const logger = createLogger('master', config.logLevel);
    await serve(() => MasterNode.start(config, logger, undefined, createMetricsRegistry({ processMetrics: true })), logger);
  });

  serverCommand(program, 'chunkserver', 'run one chunkserver process', CHUNKSERVER_DEFAULTS, 'where chunk files and their metadata live', (c) =>
    c
      .option('--masters <list>', 'comma-separated master addresses (required)')
      .option('--zone <zone>', 'zone label for placement (default "default")')
      .option('--rack <rack>', 'rack label for placement (default "default")')
      .option('--capacity <size>', 'bytes offered for chunks (default: the file system size)')
      .option('--reserved <size>', 'free space on the file system never used for chunks (default 5% of it, at most 1GiB)')
      .option('--scrub-interval-ms <ms>', 'verify one idle replica this often, 0 for never (default 60000)')
      .option('--distribution-downloads <n>', 'distribution tasks fetched at once (default 2)')
      .option('--drop-behind-writes <bool>', 'drop synced chunk bytes from the page cache: true or false (default true)'),
  ).action(async (opts: FlagValues & { config?: string }) => {
    const config = loadChunkserverConfig(opts, env);
    const logger = createLogger('chunkserver', config.logLevel);
    await serve(() => ChunkserverNode.start(config, logger, undefined, createMetricsRegistry({ processMetrics: true })), logger);
  });
}
