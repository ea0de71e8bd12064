import { isDfsError } from '../common/errors.js';
import type { ServerId } from '../common/ids.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import type { DecommissionProgress } from './movement-status.js';
import { nodeStateToWire } from './node-states.js';

/**
 * Watches decommissioning chunkservers. Their replicas count toward no goal,
 * so re-replication copies each chunk they hold elsewhere (reading from them
 * meanwhile); once every chunk they hold has its goal on other servers, the
 * leader records them DECOMMISSIONED through the log. From then on their
 * replicas are surplus and deleted, and the operator may stop them.
 */
export class DecommissionTracker {
  /** Servers whose release is on its way through the log. */
  private readonly releasing = new Set<ServerId>();

  constructor(
    private readonly ctx: MasterContext,
    private readonly leader: LeaderState,
  ) {}

  progress(): DecommissionProgress[] {
    const out: DecommissionProgress[] = [];
    for (const [id, state] of this.ctx.state().nodeStatesNotActive()) {
      if (state !== 'decommissioning' && state !== 'decommissioned') continue;
      const server = id as ServerId;
      const record = this.leader.registry.get(server);
      out.push({
        serverId: server,
        address: record?.address ?? '',
        state,
        alive: record?.alive === true,
        chunksHeld: this.leader.locations.inventory(server).size,
        chunksLeft: this.chunksLeft(server),
      });
    }
    return out;
  }

  /**
   * Replicas on `server` whose chunk has fewer counted replicas elsewhere
   * than its goal. A dead server's replicas are forgotten (re-replication
   * treats them as lost), so a dead server has none left.
   */
  chunksLeft(server: ServerId): number {
    const { leader } = this;
    const state = this.ctx.state();
    let left = 0;
    for (const handle of leader.locations.inventory(server).keys()) {
      const chunk = state.chunk(handle);
      const goal = leader.goalOf(handle);
      if (chunk === undefined || goal === undefined || chunk.confirmedVersion === 0) continue;
      const classes = leader.replicaClasses(handle, chunk.confirmedVersion);
      if (!classes.draining.includes(server)) continue;
      if (classes.counted.length < goal) left++;
    }
    return left;
  }

  /** Releases every decommissioning server that is drained. From the leader's periodic work. */
  round(): void {
    const { ctx, leader } = this;
    // Until chunkservers have reported to this leader, a replica not yet reported would look copied or lost.
    if (ctx.clock.nowMs() < leader.replicationFromMs) return;
    for (const [id, state] of ctx.state().nodeStatesNotActive()) {
      const server = id as ServerId;
      if (state !== 'decommissioning' || this.releasing.has(server) || this.chunksLeft(server) > 0) continue;
      this.releasing.add(server);
      ctx
        .propose({ timeUs: String(ctx.clock.wallUs()), setNodeState: { serverId: server, state: nodeStateToWire('decommissioned') } })
        .then(() => {
          ctx.logger.info({ server }, 'chunkserver decommissioned: every chunk it held has its goal elsewhere');
          for (const handle of leader.locations.inventory(server).keys()) leader.replication.mark(handle);
        })
        .catch((err: unknown) => {
          if (!isDfsError(err, 'NOT_LEADER')) ctx.logger.warn({ err, server }, 'recording a decommissioned server failed');
        })
        .finally(() => this.releasing.delete(server));
    }
  }
}
