import { Counter } from 'prom-client';
import { counterReading, gaugeReading, labelledGaugeReading, type CounterCell, type MetricsRegistry } from '../common/metrics.js';
import type { ChunkStore } from './chunk-store.js';
import type { ServerLoadCounters } from './chunkserver-context.js';
import type { TaskState } from './distribution-queue.js';
import type { ReplicaInventory } from './replica-inventory.js';

/**
 * A chunkserver's metrics. Bytes moved are counted where they move (one
 * `inc` per packet or frame); everything the store or the inventory already
 * keeps is read at scrape time.
 */
export class ChunkserverMetrics {
  /** Bytes served to clients by Read. */
  readonly clientReadBytes: CounterCell;
  /** Bytes served by Read to a peer copying a chunk here (re-replication out). */
  readonly copyOutBytes: CounterCell;
  /** Data of write and append packets applied to a local replica (on every replica of a pipeline). */
  readonly pipelineWrittenBytes: CounterCell;
  /** Bytes of chunks copied in from a peer (re-replication in). */
  readonly copyInBytes: CounterCell;
  /** Bytes received for distribution tasks (also counted in copyInBytes). */
  readonly distributionFetchedBytes: CounterCell;
  /** Bytes a fetch kept from the older replica here instead of receiving them (deltas). */
  readonly deltaReusedBytes: CounterCell;
  readonly corruptReplicas: CounterCell;
  readonly scrubbedReplicas: CounterCell;
  readonly scrubPasses: CounterCell;

  constructor(
    registry: MetricsRegistry,
    from: { store: ChunkStore; inventory: ReplicaInventory; load: ServerLoadCounters; distributionTasks: () => Record<TaskState, number> },
  ) {
    const read = new Counter({
      name: 'dfs_chunkserver_read_bytes_total',
      help: 'Chunk bytes sent by Read, by purpose (client: a client read; copy: a peer re-replicating the chunk)',
      labelNames: ['purpose'],
      registers: [registry],
    });
    const written = new Counter({
      name: 'dfs_chunkserver_written_bytes_total',
      help: 'Chunk bytes written to local replicas, by purpose (pipeline: client writes and appends, on every replica; copy: re-replication in)',
      labelNames: ['purpose'],
      registers: [registry],
    });
    this.clientReadBytes = read.labels('client');
    this.copyOutBytes = read.labels('copy');
    this.pipelineWrittenBytes = written.labels('pipeline');
    this.copyInBytes = written.labels('copy');
    // Every purpose from the start, at 0: a series that appears late breaks rate() over its first interval.
    for (const cell of [this.clientReadBytes, this.copyOutBytes, this.pipelineWrittenBytes, this.copyInBytes]) cell.inc(0);
    this.distributionFetchedBytes = new Counter({
      name: 'dfs_chunkserver_distribution_fetched_bytes_total',
      help: 'Chunk bytes received from peers for distribution tasks',
      registers: [registry],
    });
    this.deltaReusedBytes = new Counter({
      name: 'dfs_chunkserver_delta_reused_bytes_total',
      help: 'Chunk bytes a copy kept from the older replica held here instead of receiving them (deltas)',
      registers: [registry],
    });
    this.corruptReplicas = new Counter({
      name: 'dfs_chunkserver_corrupt_replicas_total',
      help: 'Replicas found corrupt (by a read or the scrubber), reported to the master and deleted',
      registers: [registry],
    });
    this.scrubbedReplicas = new Counter({
      name: 'dfs_chunkserver_scrubbed_replicas_total',
      help: 'Replicas the scrubber verified end to end',
      registers: [registry],
    });
    this.scrubPasses = new Counter({
      name: 'dfs_chunkserver_scrub_passes_total',
      help: 'Times the scrubber went round every replica',
      registers: [registry],
    });
    const { store, inventory, load, distributionTasks } = from;
    counterReading(registry, 'dfs_chunkserver_fsyncs_total', 'fdatasync calls on chunk files', () => store.counters.fsyncs);
    counterReading(registry, 'dfs_chunkserver_checksum_failures_total', 'Blocks read from disk that failed their CRC32C', () => store.counters.checksumMismatches);
    gaugeReading(registry, 'dfs_chunkserver_replicas', 'Replicas offered to the master', () => inventory.count());
    gaugeReading(registry, 'dfs_chunkserver_stored_bytes', 'Bytes of every replica held (mutations counted when called)', () => store.usedBytes());
    gaugeReading(registry, 'dfs_chunkserver_capacity_bytes', 'Bytes offered for chunks', () => store.capacityBytes());
    gaugeReading(registry, 'dfs_chunkserver_drop_behind_writes', '1 if synced chunk bytes leave the page cache (dropBehindWrites, and the fadvise addon loaded), else 0', () => (store.dropsBehind ? 1 : 0));
    labelledGaugeReading(registry, 'dfs_chunkserver_active_operations', 'Operations in progress, by kind (read, write, copy)', 'kind', () => [
      ['read', load.activeReads],
      ['write', load.activeWrites],
      ['copy', load.activeCopies],
    ]);
    labelledGaugeReading(registry, 'dfs_chunkserver_distribution_tasks', 'Distribution tasks held, by state (queued, running, failed)', 'state', () =>
      Object.entries(distributionTasks()),
    );
  }
}
