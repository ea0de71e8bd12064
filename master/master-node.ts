import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { systemClock, type Clock } from '../common/clock.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { serverSecurity } from '../security/node-security.js';
import { channelCredentials } from '../security/transport-security.js';
import { ClientPool } from '../common/grpc-client-pool.js';
import { dataChannelOptions, metadataChannelOptions, startGrpcServer, stopGrpcServer, type StartedServer } from '../common/grpc-server.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { createMetricsRegistry, serveMetrics, type MetricsRegistry } from '../common/metrics.js';
import { writeReadyFile } from '../common/ready-file.js';
import { HttpServer, sendJson } from '../common/http-server.js';
import { chunkserverServices, masterServices } from '../proto/load.js';
import type { AdminClient } from '../proto/generated/dfs/master/Admin.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import { adminHandlers } from './admin-service.js';
import { registerDashboard } from './dashboard-routes.js';
import { LeaderState } from './leader-state.js';
import { encodeEntry } from './log-entry.js';
import type { MasterConfig } from './master-config.js';
import type { MasterContext } from './master-context.js';
import { MasterStateHolder } from './master-state.js';
import { metadataHandlers } from './metadata-service.js';
import { MetadataSessions } from './metadata-session.js';
import { registerMasterMetrics } from './master-metrics.js';
import { RaftLog } from './raft-log.js';
import { judge, registryHandlers } from './registry-service.js';
import type { ApplyValue } from './state-machine.js';

/** The trash is purged a tenth of its retention apart, between 1 s and 1 min: a short retention frees space soon after a delete. */
function trashPurgeIntervalMs(retentionMs: number): number {
  return Math.min(60_000, Math.max(1_000, Math.floor(retentionMs / 10)));
}
const FULL_SCAN_EVERY_GC_ROUNDS = 12;

/**
 * One master process: a member of the masters' Raft group, the gRPC
 * services (clients, chunkservers, operators and Raft peers on one port) and,
 * while it leads, the leader's soft state and periodic work (liveness,
 * re-replication, garbage collection, trash). Lifecycle: start() -> serving
 * -> stop().
 */
export class MasterNode {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private leaderState: LeaderState | undefined;
  /** Counts gains of leadership, so that a slow takeover cannot outlive the leadership it began under. */
  private leadershipEpoch = 0;
  private gcRounds = 0;

  private constructor(
    readonly ctx: MasterContext,
    private readonly server: StartedServer,
    private readonly holder: MasterStateHolder,
    /** Metrics, health and the dashboard; undefined when httpPort is -1. */
    readonly http: HttpServer | undefined,
    /** Clients' metadata sessions, ended first on stop. */
    readonly sessions: MetadataSessions,
  ) {}

  get port(): number {
    return this.server.port;
  }

  get address(): string {
    return this.ctx.address;
  }

  /** `metrics`: the process's registry; a fresh one without process metrics by default. */
  static async start(
    config: MasterConfig,
    logger: Logger,
    clock: Clock = systemClock,
    metrics: MetricsRegistry = createMetricsRegistry({ processMetrics: false }),
  ): Promise<MasterNode> {
    await mkdir(config.dataDir, { recursive: true });
    const raftId = await resolveRaftId(config.dataDir, config.raftId);
    const security = await serverSecurity(config, 'master', { wallMs: () => clock.wallUs() / 1000, chunkTokenTtlMs: config.chunkTokenTtlMs });
    const peerCredentials = channelCredentials(security.transport);
    const holder = new MasterStateHolder();
    const log = await RaftLog.open(
      {
        dataDir: config.dataDir,
        id: raftId,
        tickMs: config.raftTickMs,
        electionTicks: config.raftElectionTicks,
        snapshotEveryEntries: config.snapshotEveryEntries,
        logger: logger.child({ component: 'raft' }),
        credentials: peerCredentials,
      },
      holder,
    );
    let address = config.advertiseAddress ?? `${config.host}:${config.port}`;
    let node: MasterNode | undefined;
    const ctx: MasterContext = {
      config,
      get address() {
        return address;
      },
      clock,
      random: Math.random,
      logger,
      metrics,
      state: () => holder.current,
      log,
      propose: async (entry: LogEntry): Promise<ApplyValue> => {
        const result = await log.propose(encodeEntry(entry));
        if (!result.ok) throw result.error;
        return result.value;
      },
      chunkservers: new ClientPool(chunkserverServices().dfs.chunk.ChunkControl, dataChannelOptions(), peerCredentials),
      masters: new ClientPool<AdminClient>(masterServices().dfs.master.Admin, metadataChannelOptions(), peerCredentials),
      chunkTokens: security.chunkTokens,
      leader: () => {
        const state = node?.leaderState;
        if (state !== undefined) return state;
        const leaderAddress = log.status().leaderAddress;
        throw new DfsError('NOT_LEADER', `${address} is not the leading master`, {
          details: leaderAddress !== undefined && leaderAddress !== address ? { leaderHint: leaderAddress } : {},
        });
      },
    };
    const services = masterServices().dfs.master;
    const grpcMetrics = new GrpcServerMetrics(metrics);
    const sessions = new MetadataSessions({
      metrics: grpcMetrics,
      onInternal: (err) => logger.error({ err }, 'internal error in a metadata session'),
    });
    const server = await startGrpcServer(
      (s) => {
        s.addService(services.Metadata.service, metadataHandlers(ctx, sessions));
        s.addService(services.Registry.service, registryHandlers(ctx));
        s.addService(services.Admin.service, adminHandlers(ctx));
        log.transport.register(s);
      },
      { host: config.host, port: config.port, maxMessageBytes: LIMITS.metadataMessageMaxBytes, largeWindow: false, metrics: grpcMetrics, security: security.transport, auth: security.interceptor },
    );
    address = config.advertiseAddress ?? `${config.host}:${server.port}`;
    const http = config.httpPort < 0 ? undefined : await HttpServer.start(config.host, config.httpPort, logger.child({ component: 'http' }));
    node = new MasterNode(ctx, server, holder, http, sessions);
    http?.get('/healthz', (_req, res) => {
      const status = log.status();
      sendJson(res, 200, { role: node!.leaderState !== undefined ? 'leader' : 'follower', leaderAddress: status.leaderAddress ?? null, term: status.term });
    });
    if (http) registerDashboard(http, ctx);
    log.onLeadershipChange((leading) => node!.onLeadershipChange(leading));
    const bootstrap = config.join ? undefined : (config.peers ?? [{ id: raftId, address }]);
    await log.start(address, bootstrap);
    registerMasterMetrics(metrics, { clock, state: () => holder.current, leader: () => node!.leaderState, raft: () => log.raftStatus() });
    if (http) serveMetrics(http, metrics);
    node.startPeriodicWork();
    if (config.readyFile) await writeReadyFile(config.readyFile, { pid: process.pid, port: server.port, address, ...(http ? { httpPort: http.port } : {}) });
    logger.info({ address, httpPort: http?.port, raftId, dataDir: config.dataDir, join: config.join }, 'master serving');
    return node;
  }

  private onLeadershipChange(leading: boolean): void {
    const epoch = ++this.leadershipEpoch;
    if (!leading) {
      if (this.leaderState !== undefined) this.ctx.logger.info('stopped leading');
      this.leaderState = undefined;
      return;
    }
    void this.takeOver(epoch);
  }

  /**
   * Becomes the leader the cluster can use: once every committed entry is
   * applied here, initialise a brand-new cluster, then build fresh soft
   * state. Leases an earlier leader may have granted are waited out unless
   * no chunk was ever leased; primaries that report theirs get them adopted.
   */
  private async takeOver(epoch: number): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.log.readBarrier();
      if (!this.holder.current.config().initialized) {
        await ctx.propose({
          timeUs: String(ctx.clock.wallUs()),
          initCluster: {
            chunkSizeBytes: String(ctx.config.chunkSizeBytes),
            defaultReplication: ctx.config.defaultReplication,
            clusterId: uuidv4(),
          },
        });
        ctx.logger.info({ chunkSizeBytes: ctx.config.chunkSizeBytes }, 'new cluster initialized');
      }
      if (epoch !== this.leadershipEpoch) return;
      let everLeased = false;
      this.holder.current.forEachChunk((_handle, version) => {
        if (version > 0) everLeased = true;
      });
      this.leaderState = new LeaderState(ctx, everLeased ? ctx.config.leaseDurationMs : 0);
      ctx.logger.info({ term: ctx.log.status().term, fenceMs: everLeased ? ctx.config.leaseDurationMs : 0 }, 'leading');
    } catch (err) {
      // Lost leadership on the way, or a term too short to commit: the next leader takes over.
      if (!isDfsError(err) || !err.retryable) ctx.logger.error({ err }, 'taking over as leader failed');
    }
  }

  private startPeriodicWork(): void {
    const { ctx } = this;
    this.everyWhileLeading(ctx.config.replicationIntervalMs, (leader) => {
      for (const dead of leader.registry.expire(ctx.clock.nowMs())) {
        if (leader.nodeState(dead.id) === 'maintenance') {
          // Its replicas are away for a while, not lost: remembered, not re-replicated.
          ctx.logger.warn({ server: dead.id, address: dead.address }, 'chunkserver in maintenance is down');
          leader.distribution.memberDown(dead.id);
          continue;
        }
        ctx.logger.warn({ server: dead.id, address: dead.address }, 'chunkserver is dead');
        leader.forgetServer(dead.id);
      }
      leader.replication.round();
      leader.distribution.round();
      leader.rebalancer.tick();
    });
    this.everyWhileLeading(ctx.config.gcIntervalMs, (leader) => {
      for (const server of leader.registry.live()) {
        for (const [handle, version] of leader.locations.inventory(server.id)) judge(ctx, leader, server.id, handle, version);
      }
      if (++this.gcRounds % FULL_SCAN_EVERY_GC_ROUNDS === 1) leader.replication.markAll();
      for (const handle of leader.heat.cool(ctx.clock.nowMs())) leader.replication.mark(handle);
      leader.decommissions.round();
      if (ctx.config.balancerEnabled) {
        leader.rebalancer.startIfUnbalanced({
          thresholdPct: ctx.config.balancerThresholdPct,
          maxConcurrent: ctx.config.balancerMaxConcurrent,
          background: true,
        });
      }
    });
    this.everyWhileLeading(trashPurgeIntervalMs(ctx.config.trashRetentionMs), () => {
      const nowUs = ctx.clock.wallUs();
      ctx
        .propose({
          timeUs: String(nowUs),
          purgeTrash: {
            deletedBeforeUs: String(nowUs - ctx.config.trashRetentionMs * 1000),
            sessionsIdleBeforeUs: String(nowUs - ctx.config.sessionRetentionMs * 1000),
          },
        })
        .catch((err: unknown) => {
          if (!isDfsError(err, 'NOT_LEADER')) ctx.logger.warn({ err }, 'trash purge failed');
        });
    });
  }

  private everyWhileLeading(intervalMs: number, task: (leader: LeaderState) => void): void {
    const timer = setInterval(() => {
      const leader = this.leaderState;
      if (this.stopped || leader === undefined) return;
      try {
        task(leader);
      } catch (err) {
        this.ctx.logger.error({ err }, 'periodic task failed');
      }
    }, intervalMs);
    this.timers.push(timer);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.http?.stop();
    this.sessions.endAll();
    await stopGrpcServer(this.server.server);
    this.ctx.chunkservers.close();
    this.ctx.masters.close();
    await this.ctx.log.close();
  }
}

/** A master keeps its Raft id for life: the group knows it by it. */
async function resolveRaftId(dataDir: string, wanted: string | undefined): Promise<string> {
  const path = join(dataDir, 'raft-id');
  let existing: string | undefined;
  try {
    existing = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing !== undefined) {
    if (wanted !== undefined && wanted !== existing) {
      throw new DfsError('INVALID_ARGUMENT', `${dataDir} belongs to master ${existing}, not ${wanted}`);
    }
    return existing;
  }
  const id = wanted ?? uuidv4();
  await writeFile(path, id + '\n', { flag: 'wx' });
  return id;
}
