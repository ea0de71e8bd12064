import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { systemClock, type Clock } from '../common/clock.js';
import { DfsError } from '../common/errors.js';
import { serverSecurity } from '../security/node-security.js';
import { channelCredentials } from '../security/transport-security.js';
import { ClientPool } from '../common/grpc-client-pool.js';
import { dataChannelOptions, startGrpcServer, stopGrpcServer, type StartedServer } from '../common/grpc-server.js';
import type { ChunkHandle } from '../common/ids.js';
import { KeyedMutex } from '../common/keyed-mutex.js';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { GrpcServerMetrics } from '../common/grpc-metrics.js';
import { createMetricsRegistry, serveMetrics, type MetricsRegistry } from '../common/metrics.js';
import { writeReadyFile } from '../common/ready-file.js';
import { HttpServer, sendJson } from '../common/http-server.js';
import { chunkserverServices } from '../proto/load.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { ChunkDataClient } from '../proto/generated/dfs/chunk/ChunkData.js';
import type { ChunkReplicationClient } from '../proto/generated/dfs/chunk/ChunkReplication.js';
import { ChunkStore } from './chunk-store.js';
import type { ChunkserverConfig } from './chunkserver-config.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { ChunkserverMetrics } from './chunkserver-metrics.js';
import { controlHandlers } from './control-service.js';
import { dataHandlers } from './data-service.js';
import { appendSessions } from './append-session.js';
import { readSessions } from './read-session.js';
import { DistributionAgent } from './distribution-agent.js';
import { ImportRegistry } from './import-registry.js';
import { ReadHeat } from './read-heat.js';
import { rawFrameClientConstructor, rawFrameServerDefinition, type RawPipelineClient } from '../proto/pipeline-frames.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { MasterLink } from './master-link.js';
import { PipelineRegistry } from './pipeline-registry.js';
import { ReplicaInventory } from './replica-inventory.js';
import { replicationHandlers } from './replication-service.js';
import { Scrubber } from './scrubber.js';

/**
 * One chunkserver process: the chunk store, its gRPC services (data for
 * clients, replication for peers, control for the master) on one port, the
 * heartbeat loop and the scrubber. Lifecycle: start() -> serving -> stop().
 */
export class ChunkserverNode {
  private stopped = false;

  private constructor(
    readonly ctx: ChunkserverContext,
    private readonly server: StartedServer,
    private readonly heartbeats: HeartbeatLoop,
    private readonly scrubber: Scrubber,
    private readonly distribution: DistributionAgent,
    private readonly pools: { close(): void }[],
    /** Metrics and health; undefined when httpPort is -1. */
    readonly http: HttpServer | undefined,
    /** Clients' read and append sessions, ended first on stop. */
    private readonly sessions: readonly { endAll(): void }[],
  ) {}

  get port(): number {
    return this.server.port;
  }

  get id(): string {
    return this.ctx.self().id;
  }

  /** `metrics`: the process's registry; a fresh one without process metrics by default. */
  static async start(
    config: ChunkserverConfig,
    logger: Logger,
    clock: Clock = systemClock,
    metrics: MetricsRegistry = createMetricsRegistry({ processMetrics: false }),
  ): Promise<ChunkserverNode> {
    await mkdir(config.dataDir, { recursive: true });
    const id = await loadOrCreateServerId(config.dataDir);
    const store = await ChunkStore.open(config.dataDir, {
      logger: logger.child({ component: 'store' }),
      // The cluster's chunk size is learned at registration, after the store
      // opens; packets are checked against it (packet-validation.ts).
      chunkSizeBytes: LIMITS.chunkSizeMaxBytes,
      ...(config.capacityBytes !== undefined ? { capacityBytes: config.capacityBytes } : {}),
      ...(config.reservedBytes !== undefined ? { reservedBytes: config.reservedBytes } : {}),
      dropBehindWrites: config.dropBehindWrites,
    });
    if (config.dropBehindWrites && !store.dropsBehind) {
      logger.warn('the fadvise addon did not load (npm did not build it?): synced chunk bytes stay in the page cache');
    }
    const security = await serverSecurity(config, 'chunkserver', { wallMs: () => clock.wallUs() / 1000 });
    const peerCredentials = channelCredentials(security.transport);
    const services = chunkserverServices().dfs.chunk;
    const pipelinePool = new ClientPool(
      rawFrameClientConstructor(services.ChunkReplication.service, 'ChunkReplication'),
      dataChannelOptions(),
      peerCredentials,
    );
    const dataPool = new ClientPool<ChunkDataClient>(services.ChunkData, dataChannelOptions(), peerCredentials);
    const replicationPool = new ClientPool<ChunkReplicationClient>(services.ChunkReplication, dataChannelOptions(), peerCredentials);
    const master = new MasterLink([...config.masters], logger.child({ component: 'master-link' }), peerCredentials);
    let self: ServerRef__Output = { id, address: '', zone: config.zone, rack: config.rack };
    let chunkSizeBytes = 0;
    const inventory = new ReplicaInventory(store);
    const load = { activeReads: 0, activeWrites: 0, activeCopies: 0 };
    // The agent needs the context; the metrics, made with it, read the agent's table at scrape time.
    let distribution: DistributionAgent | undefined;
    const distributionTasks = () => distribution?.counts() ?? { queued: 0, running: 0, failed: 0 };
    const ctx: ChunkserverContext = {
      config,
      self: () => self,
      clock,
      logger,
      store,
      inventory,
      pipelines: new PipelineRegistry(),
      chunkLocks: new KeyedMutex<ChunkHandle>(),
      master,
      load,
      transfers: { copyOutBytes: 0 },
      metrics: new ChunkserverMetrics(metrics, { store, inventory, load, distributionTasks }),
      imports: new ImportRegistry(),
      heat: new ReadHeat(),
      chunkSizeBytes: () => {
        if (chunkSizeBytes === 0) throw new DfsError('UNAVAILABLE', 'not registered with a master yet');
        return chunkSizeBytes;
      },
      peerPipeline: (address: string): RawPipelineClient => pipelinePool.get(address),
      peerData: (address: string) => dataPool.get(address),
      peerReplication: (address: string) => replicationPool.get(address),
    };
    const agent = new DistributionAgent(ctx, config.distributionDownloads);
    distribution = agent;
    const grpcMetrics = new GrpcServerMetrics(metrics);
    const reads = readSessions(ctx, grpcMetrics);
    const appends = appendSessions(ctx, grpcMetrics);
    const server = await startGrpcServer(
      (s) => {
        s.addService(rawFrameServerDefinition(services.ChunkData.service), {
          ...dataHandlers(ctx),
          ReadSession: reads.handler(),
          AppendSession: appends.handler(),
        });
        s.addService(rawFrameServerDefinition(services.ChunkReplication.service), replicationHandlers(ctx));
        s.addService(services.ChunkControl.service, controlHandlers(ctx, agent));
      },
      { host: config.host, port: config.port, maxMessageBytes: LIMITS.dataMessageMaxBytes, largeWindow: true, metrics: grpcMetrics, security: security.transport, auth: security.interceptor },
    );
    self = { ...self, address: config.advertiseAddress ?? `${config.host}:${server.port}` };
    const heartbeats = new HeartbeatLoop(ctx, agent, (bytes) => (chunkSizeBytes = bytes));
    agent.onDrained = () => heartbeats.soon();
    const scrubber = new Scrubber(ctx);
    const http = config.httpPort < 0 ? undefined : await HttpServer.start(config.host, config.httpPort, logger.child({ component: 'http' }));
    if (http) serveMetrics(http, metrics);
    http?.get('/healthz', (_req, res) => sendJson(res, 200, { id, address: self.address, registered: chunkSizeBytes !== 0 }));
    const node = new ChunkserverNode(ctx, server, heartbeats, scrubber, agent, [pipelinePool, dataPool, replicationPool, master], http, [reads, appends]);
    await heartbeats.start();
    scrubber.start(config.scrubIntervalMs);
    if (config.readyFile) await writeReadyFile(config.readyFile, { pid: process.pid, port: server.port, address: self.address, ...(http ? { httpPort: http.port } : {}) });
    logger.info({ id, address: self.address, chunks: ctx.inventory.count() }, 'chunkserver serving');
    return node;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.heartbeats.stop();
    await this.scrubber.stop();
    await this.http?.stop();
    for (const sessions of this.sessions) sessions.endAll();
    await stopGrpcServer(this.server.server);
    await this.distribution.stop();
    await this.ctx.imports.abortAll(new DfsError('UNAVAILABLE', 'chunkserver stopping'));
    await this.ctx.pipelines.closeAll(new DfsError('UNAVAILABLE', 'chunkserver stopping'));
    for (const pool of this.pools) pool.close();
    await this.ctx.store.close();
  }
}

/** A chunkserver keeps its identity across restarts: replicas are known by server id. */
async function loadOrCreateServerId(dataDir: string): Promise<string> {
  const path = join(dataDir, 'server-id');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const id = uuidv4();
    await writeFile(path, id + '\n', { flag: 'wx' });
    return id;
  }
}
