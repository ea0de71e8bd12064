import type { ChunkDataClient } from '../proto/generated/dfs/chunk/ChunkData.js';
import type { ChunkReplicationClient } from '../proto/generated/dfs/chunk/ChunkReplication.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { Clock } from '../common/clock.js';
import type { ChunkHandle } from '../common/ids.js';
import type { KeyedMutex } from '../common/keyed-mutex.js';
import type { Logger } from '../common/logger.js';
import type { ChunkStore } from './chunk-store.js';
import type { ChunkserverMetrics } from './chunkserver-metrics.js';
import type { ChunkserverConfig } from './chunkserver-config.js';
import type { ImportRegistry } from './import-registry.js';
import type { ReadHeat } from './read-heat.js';
import type { RawPipelineClient } from '../proto/pipeline-frames.js';
import type { MasterLink } from './master-link.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import type { ReplicaInventory } from './replica-inventory.js';

/** Counters the heartbeat reports as load and placement uses to spread work. */
export interface ServerLoadCounters {
  activeReads: number;
  activeWrites: number;
  activeCopies: number;
}

/** Totals the heartbeat reports as they are (cumulative since the process started). */
export interface TransferTotals {
  /** Chunk bytes sent to peers copying chunks from here. */
  copyOutBytes: number;
}

/** What a chunkserver's modules share. One per process, passed explicitly. */
export interface ChunkserverContext {
  readonly config: ChunkserverConfig;
  /** This server as peers see it (its address is known once the port is bound). */
  self(): ServerRef__Output;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: ChunkStore;
  readonly inventory: ReplicaInventory;
  readonly pipelines: PipelineRegistry;
  /** Control operations on one chunk (versions, copies, deletes) run one at a time. */
  readonly chunkLocks: KeyedMutex<ChunkHandle>;
  readonly master: MasterLink;
  readonly load: ServerLoadCounters;
  readonly transfers: TransferTotals;
  readonly metrics: ChunkserverMetrics;
  /** Chunks being received: one fetch per chunk, and the imports peers may follow. */
  readonly imports: ImportRegistry;
  /** Client reads per chunk since the last heartbeat. */
  readonly heat: ReadHeat;
  /** The cluster's chunk size, learned from the master at registration. */
  chunkSizeBytes(): number;
  peerPipeline(address: string): RawPipelineClient;
  peerData(address: string): ChunkDataClient;
  peerReplication(address: string): ChunkReplicationClient;
}
