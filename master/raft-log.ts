import type * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { LIMITS } from '../common/limits.js';
import type { Logger } from '../common/logger.js';
import { GrpcTransport, LevelDbStorage, RaftGroup, nodeId, type RaftGroupStatus } from '../raft/index.js';
import type { MasterStateHolder } from './master-state.js';
import type { LogStatus, ReplicatedLog } from './replicated-log.js';
import type { ApplyResult } from './state-machine.js';

export interface RaftLogOptions {
  dataDir: string;
  id: string;
  tickMs: number;
  electionTicks: number;
  snapshotEveryEntries: number;
  logger: Logger;
  /** How this master reaches the others. */
  credentials: grpc.ChannelCredentials;
}

/**
 * The master's log: a Raft group whose members are the masters, over
 * LevelDB storage and the gRPC transport that the master serves on its own
 * port. Batches stay under the master's message limit, so one port and one
 * limit serve clients, chunkservers and peers alike.
 */
export class RaftLog implements ReplicatedLog<ApplyResult> {
  private group: RaftGroup<ApplyResult> | undefined;
  private pendingListeners: ((leading: boolean) => void)[] = [];
  /** The ReadIndex round that reads arriving now will share; see readBarrier(). */
  private nextReadIndex: Promise<void> | undefined;
  readonly transport: GrpcTransport;

  private constructor(
    private readonly options: RaftLogOptions,
    private readonly storage: LevelDbStorage,
    private readonly holder: MasterStateHolder,
  ) {
    this.transport = new GrpcTransport({
      id: nodeId(options.id),
      logger: options.logger,
      limits: { batchBytes: LIMITS.metadataMessageMaxBytes / 4, grpcMessageBytes: LIMITS.metadataMessageMaxBytes },
      credentials: options.credentials,
    });
  }

  /** Opens storage; call start() once this master's address is known (its server is bound). */
  static async open(options: RaftLogOptions, holder: MasterStateHolder): Promise<RaftLog> {
    const storage = await LevelDbStorage.open(join(options.dataDir, 'raft'));
    return new RaftLog(options, storage, holder);
  }

  /**
   * Joins the group at `address`. `bootstrap`: the members of a brand-new
   * group, identical on each; ignored once the log has entries; undefined to
   * wait to be added to an existing group.
   */
  async start(address: string, bootstrap: ReadonlyArray<{ id: string; address: string }> | undefined): Promise<void> {
    this.group = new RaftGroup<ApplyResult>({
      id: this.options.id,
      address,
      storage: this.storage,
      transport: this.transport,
      stateMachine: this.holder,
      ...(bootstrap ? { bootstrap } : {}),
      tickIntervalMs: this.options.tickMs,
      electionTicks: this.options.electionTicks,
      snapshotEveryEntries: this.options.snapshotEveryEntries,
      logger: this.options.logger,
      // Every read of the namespace needs a read index; a lease spares each one a heartbeat round.
      leaseReads: true,
      core: { maxMessageBytes: LIMITS.metadataMessageMaxBytes / 4 },
    });
    for (const listener of this.pendingListeners) this.group.onLeadershipChange(listener);
    this.pendingListeners = [];
    await this.group.start();
  }

  private get raft(): RaftGroup<ApplyResult> {
    if (this.group === undefined) throw new Error('the raft log has not started');
    return this.group;
  }

  propose(data: Uint8Array): Promise<ApplyResult> {
    return this.raft.propose(data);
  }

  /**
   * Reads that arrive in the same turn of the event loop share one ReadIndex
   * round (a heartbeat to every follower and its answers): it is requested
   * after the last of them arrived, so it covers every write committed
   * before any of them, which is all linearizability asks. A read arriving
   * once it is requested waits for the next round, not this one.
   */
  readBarrier(): Promise<void> {
    this.nextReadIndex ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.nextReadIndex = undefined;
      return this.raft.readIndex();
    });
    return this.nextReadIndex;
  }

  isLeader(): boolean {
    return this.group?.status().role === 'leader';
  }

  onLeadershipChange(listener: (leading: boolean) => void): void {
    if (this.group === undefined) this.pendingListeners.push(listener);
    else this.group.onLeadershipChange(listener);
  }

  raftStatus(): RaftGroupStatus {
    return this.raft.status();
  }

  status(): LogStatus {
    const s = this.raft.status();
    return {
      role: s.role,
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      leaderId: s.leader?.id,
      leaderAddress: s.leader?.address ?? undefined,
    };
  }

  addMember(id: string, address: string): Promise<void> {
    return this.raft.addMember(id, address);
  }

  removeMember(id: string): Promise<void> {
    return this.raft.removeMember(id);
  }

  transferLeadership(id: string): Promise<void> {
    return this.raft.transferLeadership(id);
  }

  async close(): Promise<void> {
    if (this.group !== undefined) await this.group.stop();
    else await this.storage.close();
  }
}
