import { isDfsError } from '../../client-lib/index.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { isAlive } from '../../cli/process-launcher.js';
import type { RaftStatusResponse__Output } from '../../proto/generated/dfs/master/RaftStatusResponse.js';
import { rawClients } from '../harness/raw-clients.js';
import type { TestCluster } from '../harness/test-cluster.js';

const PROBE_TIMEOUT_MS = 1_500;

type Raw = ReturnType<typeof rawClients>;

/**
 * What the nemesis asks the cluster to aim its faults: which master leads,
 * which chunkserver is the primary of a file's last chunk. Each master is
 * asked directly (no redirection), as an admin.
 */
export class ClusterProbe {
  private readonly raw = new Map<string, { clients: Raw; admin: ReturnType<Raw['admin']>; metadata: ReturnType<Raw['metadata']> }>();

  constructor(
    private readonly cluster: TestCluster,
    private readonly masterNames: readonly string[],
  ) {}

  private clientsOf(name: string) {
    let entry = this.raw.get(name);
    if (entry === undefined) {
      const clients = rawClients(this.cluster.process(name).address, this.cluster.channelCredentials('admin'));
      entry = { clients, admin: clients.admin(), metadata: clients.metadata() };
      this.raw.set(name, entry);
    }
    return entry;
  }

  /** Each live master's own view of the group; a master that does not answer has no say. */
  async views(): Promise<Map<string, RaftStatusResponse__Output>> {
    const views = new Map<string, RaftStatusResponse__Output>();
    await Promise.all(
      this.masterNames.map(async (name) => {
        if (!isAlive(this.cluster.process(name).pid)) return;
        try {
          views.set(name, await callUnary(this.clientsOf(name).admin, 'RaftStatus', {}, PROBE_TIMEOUT_MS));
        } catch (err) {
          if (!isDfsError(err)) throw err;
        }
      }),
    );
    return views;
  }

  /** The master a majority follows in its term, if there is one. */
  async leader(): Promise<string | undefined> {
    const views = await this.views();
    const leaders = [...views.values()].filter((v) => v.role === 'leader').sort((a, b) => Number(b.term) - Number(a.term));
    for (const l of leaders) {
      const following = [...views.values()].filter((v) => v.term === l.term && v.leaderId === l.id).length;
      if (following * 2 > this.masterNames.length) return l.id;
    }
    return undefined;
  }

  /** Every master up and following one leader: the group is whole again. */
  async settledLeader(): Promise<string | undefined> {
    const views = await this.views();
    if (views.size < this.masterNames.length) return undefined;
    const leader = [...views.values()].find((v) => v.role === 'leader');
    if (leader === undefined) return undefined;
    return [...views.values()].every((v) => v.term === leader.term && v.leaderId === leader.id) ? leader.id : undefined;
  }

  /**
   * The address of the primary holding (or now granted) the lease on the
   * file's last chunk: GetLease is what a writer asks, so asking grants one
   * if none is out, as the next append would.
   */
  async tailPrimary(inode: number): Promise<string | undefined> {
    const leader = await this.leader();
    if (leader === undefined) return undefined;
    const { metadata } = this.clientsOf(leader);
    try {
      const first = await callUnary(metadata, 'GetChunks', { inode: String(inode), firstIndex: '0', count: 1 }, PROBE_TIMEOUT_MS);
      const chunkCount = Number(first.attr?.chunkCount ?? 0);
      if (chunkCount === 0) return undefined;
      const tail = await callUnary(metadata, 'GetChunks', { inode: String(inode), firstIndex: String(chunkCount - 1), count: 1 }, PROBE_TIMEOUT_MS);
      const chunk = tail.chunks[0];
      if (chunk === undefined) return undefined;
      const { lease } = await callUnary(metadata, 'GetLease', { handle: chunk.handle }, PROBE_TIMEOUT_MS);
      return lease?.primary?.address;
    } catch (err) {
      if (isDfsError(err)) return undefined;
      throw err;
    }
  }

  close(): void {
    for (const { clients } of this.raw.values()) clients.close();
    this.raw.clear();
  }
}
