import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { systemClock, type Clock } from '../common/clock.js';
import { DfsError } from '../common/errors.js';
import { ClientPool } from '../common/grpc-client-pool.js';
import { dataChannelOptions, startGrpcServer, stopGrpcServer, type StartedServer } from '../common/grpc-server.js';
import type { ChunkHandle } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { writeReadyFile } from '../common/ready-file.js';
import { chunkserverServices, masterServices } from '../proto/load.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import { adminHandlers } from './admin-service.js';
import { ChunkLocations } from './chunk-locations.js';
import { ChunkserverRegistry } from './chunkserver-registry.js';
import { LeaseManager } from './lease-manager.js';
import { LeaseTable } from './lease-table.js';
import { encodeEntry } from './log-entry.js';
import type { MasterConfig } from './master-config.js';
import type { MasterContext } from './master-context.js';
import { MasterStateHolder } from './master-state.js';
import { metadataHandlers } from './metadata-service.js';
import { judge, registryHandlers } from './registry-service.js';
import { ReplicationManager } from './replication-manager.js';
import { SingleNodeLog } from './single-node-log.js';
import type { ApplyResult, ApplyValue } from './state-machine.js';

const TRASH_PURGE_INTERVAL_MS = 60_000;
const FULL_SCAN_EVERY_GC_ROUNDS = 12;

/**
 * One master process: the log and state machine, the leader's soft state,
 * the gRPC services, and the periodic work (liveness, re-replication,
 * garbage collection, trash). Lifecycle: start() -> serving -> stop().
 */
export class MasterNode {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  private constructor(
    readonly ctx: MasterContext,
    private readonly server: StartedServer,
    private readonly replication: ReplicationManager,
  ) {}

  get port(): number {
    return this.server.port;
  }

  get address(): string {
    return this.ctx.address;
  }

  static async start(config: MasterConfig, logger: Logger, clock: Clock = systemClock): Promise<MasterNode> {
    await mkdir(config.dataDir, { recursive: true });
    const holder = new MasterStateHolder();
    let address = config.advertiseAddress ?? `${config.host}:${config.port}`;
    const log = await SingleNodeLog.open<ApplyResult>(join(config.dataDir, 'log'), holder, {
      snapshotEveryEntries: config.snapshotEveryEntries,
      address: () => address,
      logger: logger.child({ component: 'log' }),
    });
    // A brand-new cluster has granted no lease that must be waited out.
    const fresh = !holder.current.config().initialized;
    let replication: ReplicationManager | undefined;
    const ctx: MasterContext = {
      config,
      get address() {
        return address;
      },
      clock,
      random: Math.random,
      logger,
      state: () => holder.current,
      log,
      propose: async (entry: LogEntry): Promise<ApplyValue> => {
        const result = await log.propose(encodeEntry(entry));
        if (!result.ok) throw result.error;
        return result.value;
      },
      registry: new ChunkserverRegistry(config.chunkserverTimeoutMs),
      locations: new ChunkLocations(),
      leases: new LeaseTable(clock.nowMs(), fresh ? 0 : config.leaseDurationMs),
      chunkservers: new ClientPool(chunkserverServices().dfs.chunk.ChunkControl, dataChannelOptions()),
      pendingDeletes: new Map(),
      markForReplication: (handle: ChunkHandle) => replication?.mark(handle),
      isCopying: (handle: ChunkHandle) => replication?.isCopying(handle) ?? false,
    };
    replication = new ReplicationManager(ctx);
    if (fresh) {
      await ctx.propose({
        timeUs: String(clock.wallUs()),
        initCluster: {
          chunkSizeBytes: String(config.chunkSizeBytes),
          defaultReplication: config.defaultReplication,
          clusterId: uuidv4(),
        },
      });
      logger.info({ chunkSizeBytes: config.chunkSizeBytes }, 'new cluster initialized');
    } else if (holder.current.config().chunkSizeBytes !== config.chunkSizeBytes) {
      logger.info({ chunkSizeBytes: holder.current.config().chunkSizeBytes }, 'chunk size is fixed by the existing cluster');
    }
    const leases = new LeaseManager(ctx);
    const services = masterServices().dfs.master;
    const server = await startGrpcServer(
      (s) => {
        s.addService(services.Metadata.service, metadataHandlers(ctx, leases));
        s.addService(services.Registry.service, registryHandlers(ctx));
        s.addService(services.Admin.service, adminHandlers(ctx, replication!));
      },
      { host: config.host, port: config.port, maxMessageBytes: LIMITS.metadataMessageMaxBytes, largeWindow: false },
    );
    address = config.advertiseAddress ?? `${config.host}:${server.port}`;
    const node = new MasterNode(ctx, server, replication);
    log.onLeadershipChange((leading) => {
      if (leading) ctx.leases.fence(clock.nowMs(), config.leaseDurationMs);
    });
    node.startPeriodicWork();
    if (config.readyFile) await writeReadyFile(config.readyFile, { pid: process.pid, port: server.port, address });
    logger.info({ address, dataDir: config.dataDir }, 'master serving');
    return node;
  }

  private startPeriodicWork(): void {
    const { ctx } = this;
    let gcRounds = 0;
    this.every(ctx.config.replicationIntervalMs, () => {
      for (const dead of ctx.registry.expire(ctx.clock.nowMs())) {
        ctx.logger.warn({ server: dead.id, address: dead.address }, 'chunkserver is dead');
        for (const handle of ctx.locations.dropServer(dead.id)) this.replication.mark(handle);
        ctx.pendingDeletes.delete(dead.id);
      }
      this.replication.round();
    });
    this.every(ctx.config.gcIntervalMs, () => {
      for (const server of ctx.registry.live()) {
        for (const [handle, version] of ctx.locations.inventory(server.id)) judge(ctx, server.id, handle, version);
      }
      if (++gcRounds % FULL_SCAN_EVERY_GC_ROUNDS === 1) this.replication.markAll();
    });
    this.every(TRASH_PURGE_INTERVAL_MS, () => {
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
          if (!(err instanceof DfsError && err.code === 'NOT_LEADER')) ctx.logger.warn({ err }, 'trash purge failed');
        });
    });
  }

  private every(intervalMs: number, task: () => void): void {
    const timer = setInterval(() => {
      if (this.stopped) return;
      try {
        task();
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
    await stopGrpcServer(this.server.server);
    this.ctx.chunkservers.close();
    await this.ctx.log.close();
  }
}
