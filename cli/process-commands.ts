import type { Command } from 'commander';
import { createLogger, type Logger, type LogLevel } from '../common/logger.js';
import { ChunkserverNode } from '../chunkserver/chunkserver-node.js';
import { CHUNKSERVER_DEFAULTS, validateChunkserverConfig, type ChunkserverConfig } from '../chunkserver/chunkserver-config.js';
import { MasterNode } from '../master/master-node.js';
import { MASTER_DEFAULTS, validateMasterConfig, type MasterConfig } from '../master/master-config.js';
import { asBoolean, asList, asNumber, asString, loadConfigFile, mergeSettings, type RawSettings } from './config-sources.js';
import { DfsError } from '../common/errors.js';
import { parseSize } from './size.js';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

const MASTER_KEYS = [
  'host', 'port', 'httpPort', 'advertiseAddress', 'dataDir', 'raftId', 'peers', 'join', 'raftTickMs', 'raftElectionTicks', 'chunkSize', 'replication', 'leaseDurationMs', 'heartbeatIntervalMs',
  'chunkserverTimeoutMs', 'trashRetentionMs', 'sessionRetentionMs', 'replicationIntervalMs', 'gcIntervalMs',
  'snapshotEveryEntries', 'highWaterMark', 'balancerEnabled', 'balancerThresholdPct', 'balancerMaxConcurrent', 'logLevel', 'readyFile',
] as const;

const CHUNKSERVER_KEYS = [
  'host', 'port', 'httpPort', 'advertiseAddress', 'dataDir', 'masters', 'zone', 'rack', 'capacity', 'scrubIntervalMs', 'logLevel', 'readyFile',
] as const;

export function masterConfigFrom(settings: RawSettings): MasterConfig {
  const d = MASTER_DEFAULTS;
  return validateMasterConfig({
    host: asString(settings.host) ?? d.host,
    port: asNumber(settings.port, 'port') ?? d.port,
    httpPort: asNumber(settings.httpPort, 'httpPort') ?? d.httpPort,
    advertiseAddress: asString(settings.advertiseAddress),
    dataDir: asString(settings.dataDir) ?? '',
    raftId: asString(settings.raftId),
    peers: parsePeers(asList(settings.peers)),
    join: asBoolean(settings.join, 'join') ?? d.join,
    raftTickMs: asNumber(settings.raftTickMs, 'raftTickMs') ?? d.raftTickMs,
    raftElectionTicks: asNumber(settings.raftElectionTicks, 'raftElectionTicks') ?? d.raftElectionTicks,
    chunkSizeBytes: asNumber(settings.chunkSize, 'chunkSize', parseSize) ?? d.chunkSizeBytes,
    defaultReplication: asNumber(settings.replication, 'replication') ?? d.defaultReplication,
    leaseDurationMs: asNumber(settings.leaseDurationMs, 'leaseDurationMs') ?? d.leaseDurationMs,
    heartbeatIntervalMs: asNumber(settings.heartbeatIntervalMs, 'heartbeatIntervalMs') ?? d.heartbeatIntervalMs,
    chunkserverTimeoutMs: asNumber(settings.chunkserverTimeoutMs, 'chunkserverTimeoutMs') ?? d.chunkserverTimeoutMs,
    trashRetentionMs: asNumber(settings.trashRetentionMs, 'trashRetentionMs') ?? d.trashRetentionMs,
    sessionRetentionMs: asNumber(settings.sessionRetentionMs, 'sessionRetentionMs') ?? d.sessionRetentionMs,
    replicationIntervalMs: asNumber(settings.replicationIntervalMs, 'replicationIntervalMs') ?? d.replicationIntervalMs,
    gcIntervalMs: asNumber(settings.gcIntervalMs, 'gcIntervalMs') ?? d.gcIntervalMs,
    snapshotEveryEntries: asNumber(settings.snapshotEveryEntries, 'snapshotEveryEntries') ?? d.snapshotEveryEntries,
    highWaterMark: asNumber(settings.highWaterMark, 'highWaterMark') ?? d.highWaterMark,
    balancerEnabled: asBoolean(settings.balancerEnabled, 'balancerEnabled') ?? d.balancerEnabled,
    balancerThresholdPct: asNumber(settings.balancerThresholdPct, 'balancerThresholdPct') ?? d.balancerThresholdPct,
    balancerMaxConcurrent: asNumber(settings.balancerMaxConcurrent, 'balancerMaxConcurrent') ?? d.balancerMaxConcurrent,
    logLevel: logLevel(settings.logLevel) ?? d.logLevel,
    readyFile: asString(settings.readyFile),
  });
}

export function chunkserverConfigFrom(settings: RawSettings): ChunkserverConfig {
  const d = CHUNKSERVER_DEFAULTS;
  return validateChunkserverConfig({
    host: asString(settings.host) ?? d.host,
    port: asNumber(settings.port, 'port') ?? d.port,
    httpPort: asNumber(settings.httpPort, 'httpPort') ?? d.httpPort,
    advertiseAddress: asString(settings.advertiseAddress),
    dataDir: asString(settings.dataDir) ?? '',
    masters: asList(settings.masters) ?? [],
    zone: asString(settings.zone) ?? d.zone,
    rack: asString(settings.rack) ?? d.rack,
    capacityBytes: asNumber(settings.capacity, 'capacity', parseSize),
    scrubIntervalMs: asNumber(settings.scrubIntervalMs, 'scrubIntervalMs') ?? d.scrubIntervalMs,
    logLevel: logLevel(settings.logLevel) ?? d.logLevel,
    readyFile: asString(settings.readyFile),
  });
}

/** "id=host:port,id=host:port" -> members. */
function parsePeers(list: string[] | undefined): { id: string; address: string }[] | undefined {
  if (list === undefined) return undefined;
  return list.map((item) => {
    const at = item.indexOf('=');
    if (at <= 0) throw new DfsError('INVALID_ARGUMENT', `peer ${JSON.stringify(item)} must be id=host:port`);
    return { id: item.slice(0, at), address: item.slice(at + 1) };
  });
}

function logLevel(value: RawSettings[string]): LogLevel | undefined {
  if (value === undefined) return undefined;
  const level = String(value) as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new Error(`logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  return level;
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
    .option('--data-dir <dir>', `${dataDir} (required)`);
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
      .option('--snapshot-every-entries <n>', 'log entries between snapshots (default 20000)'),
  ).action(async (opts: RawSettings & { config?: string }) => {
    const config = masterConfigFrom(mergeSettings(MASTER_KEYS, opts, env, loadConfigFile(opts.config)));
    const logger = createLogger('master', config.logLevel);
    await serve(() => MasterNode.start(config, logger), logger);
  });

  serverCommand(program, 'chunkserver', 'run one chunkserver process', CHUNKSERVER_DEFAULTS, 'where chunk files and their metadata live', (c) =>
    c
      .option('--masters <list>', 'comma-separated master addresses (required)')
      .option('--zone <zone>', 'zone label for placement (default "default")')
      .option('--rack <rack>', 'rack label for placement (default "default")')
      .option('--capacity <size>', 'bytes offered for chunks (default: the file system size)')
      .option('--scrub-interval-ms <ms>', 'verify one idle replica this often, 0 for never (default 60000)'),
  ).action(async (opts: RawSettings & { config?: string }) => {
    const config = chunkserverConfigFrom(mergeSettings(CHUNKSERVER_KEYS, opts, env, loadConfigFile(opts.config)));
    const logger = createLogger('chunkserver', config.logLevel);
    await serve(() => ChunkserverNode.start(config, logger), logger);
  });
}
