import { isDfsError } from '../../client-lib/index.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { RaftGroupProbe } from '../harness/raft-group-probe.js';
import { rawClients } from '../harness/raw-clients.js';
import type { TestCluster } from '../harness/test-cluster.js';

const PROBE_TIMEOUT_MS = 1_500;

type Raw = ReturnType<typeof rawClients>;

/**
 * What the nemesis asks the cluster to aim its faults: which master leads,
 * which chunkserver is the primary of a file's last chunk. Each master is
 * asked directly (no redirection), with the cluster's credentials.
 */
export class ClusterProbe {
  private readonly raw = new Map<string, { clients: Raw; metadata: ReturnType<Raw['metadata']> }>();
  private readonly group: RaftGroupProbe;

  constructor(
    private readonly cluster: TestCluster,
    masterNames: readonly string[],
  ) {
    this.group = new RaftGroupProbe(cluster, masterNames, PROBE_TIMEOUT_MS);
  }

  private clientsOf(name: string) {
    let entry = this.raw.get(name);
    if (entry === undefined) {
      // Metadata as a mount, the role rawClients gives it.
      const clients = rawClients(this.cluster.process(name).address, this.cluster);
      entry = { clients, metadata: clients.metadata() };
      this.raw.set(name, entry);
    }
    return entry;
  }

  /** The master a majority follows in its term, if there is one. */
  leader(): Promise<string | undefined> {
    return this.group.leader();
  }

  /** Every master up and following one leader: the group is whole again. */
  async settledLeader(): Promise<string | undefined> {
    return (await this.group.wholeGroupLeader())?.id;
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
    this.group.close();
  }
}
