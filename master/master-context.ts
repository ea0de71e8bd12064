import type { ChunkTokenSigner } from '../security/chunk-access.js';
import type { ChunkControlClient } from '../proto/generated/dfs/chunk/ChunkControl.js';
import type { LogEntry } from '../proto/generated/dfs/masterlog/LogEntry.js';
import type { Clock } from '../common/clock.js';
import type { ClientPool } from '../common/grpc-client-pool.js';
import type { Logger } from '../common/logger.js';
import type { MetricsRegistry } from '../common/metrics.js';
import type { LeaderState } from './leader-state.js';
import type { MasterConfig } from './master-config.js';
import type { AdminClient } from '../proto/generated/dfs/master/Admin.js';
import type { RaftLog } from './raft-log.js';
import type { ApplyValue, MasterStateMachine } from './state-machine.js';

/**
 * What the master's I/O modules share: configuration, the replicated state
 * behind its log, and, while this master leads, the leader's soft state.
 * One per master process; passed explicitly, never a module-level singleton.
 */
export interface MasterContext {
  readonly config: MasterConfig;
  readonly address: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  /** This process's Prometheus registry (served at /metrics). */
  readonly metrics: MetricsRegistry;
  /** The state machine as of the last applied entry (a snapshot restore replaces it). */
  state(): MasterStateMachine;
  readonly log: RaftLog;
  /** Proposes an entry and returns its value, or throws the DfsError it failed with. */
  propose(entry: LogEntry): Promise<ApplyValue>;
  readonly chunkservers: ClientPool<ChunkControlClient>;
  /** Admin clients of other masters (to learn a joining master's id). */
  readonly masters: ClientPool<AdminClient>;
  /** Signs the chunk access tokens handed out with locations and leases; none when the cluster runs plaintext. */
  readonly chunkTokens: ChunkTokenSigner | undefined;
  /**
   * The leader's soft state (chunk locations, liveness, leases, copies),
   * rebuilt from scratch each time this master starts leading. Throws
   * NOT_LEADER, naming the leader when known, on a follower.
   */
  leader(): LeaderState;
}
