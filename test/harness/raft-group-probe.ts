import { isDfsError } from '../../client-lib/index.js';
import { isAlive } from '../../cli/process-launcher.js';
import { ClientPool, callUnary } from '../../common/grpc-client-pool.js';
import { metadataChannelOptions } from '../../common/grpc-server.js';
import { masterServices } from '../../proto/load.js';
import type { AdminClient } from '../../proto/generated/dfs/master/Admin.js';
import type { RaftStatusResponse__Output } from '../../proto/generated/dfs/master/RaftStatusResponse.js';
import type { TestCluster } from './test-cluster.js';

/**
 * Each master's own view of the Raft group, asked directly (no NOT_LEADER
 * redirection) as the cluster's admin: for tests that aim faults at the
 * leader or wait for the group to settle.
 */
export class RaftGroupProbe {
  private readonly admins: ClientPool<AdminClient>;

  constructor(
    private readonly cluster: TestCluster,
    readonly masterNames: readonly string[],
    private readonly timeoutMs: number,
  ) {
    this.admins = new ClientPool<AdminClient>(masterServices().dfs.master.Admin, metadataChannelOptions(), cluster.channelCredentials('admin'));
  }

  /** Each live master's view; a master that does not answer (down, paused, restarting) has no say. */
  async views(): Promise<Map<string, RaftStatusResponse__Output>> {
    const views = new Map<string, RaftStatusResponse__Output>();
    await Promise.all(
      this.masterNames.map(async (name) => {
        const { address, pid } = this.cluster.process(name);
        if (!isAlive(pid)) return;
        try {
          views.set(name, await callUnary(this.admins.get(address), 'RaftStatus', {}, this.timeoutMs));
        } catch (err) {
          if (!isDfsError(err)) throw err;
        }
      }),
    );
    return views;
  }

  /** The leader that a majority of the group follows in its own term, if there is one. */
  async leader(): Promise<string | undefined> {
    const views = await this.views();
    const leaders = [...views.values()].filter((v) => v.role === 'leader').sort((a, b) => Number(b.term) - Number(a.term));
    for (const l of leaders) {
      const following = [...views.values()].filter((v) => v.term === l.term && v.leaderId === l.id).length;
      if (following * 2 > this.masterNames.length) return l.id;
    }
    return undefined;
  }

  /** Every master up and following one leader; its view, if so. */
  async wholeGroupLeader(): Promise<RaftStatusResponse__Output | undefined> {
    const views = await this.views();
    if (views.size < this.masterNames.length) return undefined;
    const leader = [...views.values()].find((v) => v.role === 'leader');
    if (leader === undefined) return undefined;
    return [...views.values()].every((v) => v.term === leader.term && v.leaderId === leader.id) ? leader : undefined;
  }

  close(): void {
    this.admins.close();
  }
}
