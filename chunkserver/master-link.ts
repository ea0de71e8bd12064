import type * as grpc from '@grpc/grpc-js';
import { DfsError, isDfsError } from '../common/errors.js';
import { ClientPool, callUnary } from '../common/grpc-client-pool.js';
import { metadataChannelOptions } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { masterServices } from '../proto/load.js';
import type { RegistryClient } from '../proto/generated/dfs/master/Registry.js';
import type { RegisterRequest } from '../proto/generated/dfs/master/RegisterRequest.js';
import type { RegisterResponse__Output } from '../proto/generated/dfs/master/RegisterResponse.js';
import type { HeartbeatRequest } from '../proto/generated/dfs/master/HeartbeatRequest.js';
import type { HeartbeatResponse__Output } from '../proto/generated/dfs/master/HeartbeatResponse.js';
import type { ReplicaProblemReport } from '../proto/generated/dfs/master/ReplicaProblemReport.js';
import type { CommitChunkLengthRequest } from '../proto/generated/dfs/master/CommitChunkLengthRequest.js';
import type { ReleaseLeaseRequest } from '../proto/generated/dfs/master/ReleaseLeaseRequest.js';

const CALL_TIMEOUT_MS = 5_000;

/**
 * The chunkserver's way to the leading master: tries the one it last
 * reached, follows NOT_LEADER hints, and moves on to the next address when
 * one is down.
 */
export class MasterLink {
  private readonly pool: ClientPool<RegistryClient>;
  private current = 0;

  constructor(
    private readonly addresses: string[],
    private readonly logger: Logger,
    credentials: grpc.ChannelCredentials,
  ) {
    this.pool = new ClientPool<RegistryClient>(masterServices().dfs.master.Registry, metadataChannelOptions(), credentials);
  }

  register(request: RegisterRequest): Promise<RegisterResponse__Output> {
    return this.call((client) => callUnary(client, 'Register', request, CALL_TIMEOUT_MS));
  }

  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse__Output> {
    return this.call((client) => callUnary(client, 'Heartbeat', request, CALL_TIMEOUT_MS));
  }

  /** Returns the file's size after the commit. */
  async commitChunkLength(request: CommitChunkLengthRequest): Promise<number> {
    const response = await this.call((client) => callUnary(client, 'CommitChunkLength', request, CALL_TIMEOUT_MS));
    return Number(response.fileSize);
  }

  async releaseLease(request: ReleaseLeaseRequest): Promise<void> {
    await this.call((client) => callUnary(client, 'ReleaseLease', request, CALL_TIMEOUT_MS));
  }

  async reportProblem(report: ReplicaProblemReport): Promise<void> {
    await this.call((client) => callUnary(client, 'ReportReplicaProblem', report, CALL_TIMEOUT_MS));
  }

  private async call<T>(fn: (client: RegistryClient) => Promise<T>): Promise<T> {
    let lastError: DfsError | undefined;
    for (let tries = 0; tries < this.addresses.length + 1; tries++) {
      const address = this.addresses[this.current]!;
      try {
        return await fn(this.pool.get(address));
      } catch (err) {
        if (!isDfsError(err) || !err.retryable) throw err;
        lastError = err;
        const hint = err.details.leaderHint;
        if (err.code === 'NOT_LEADER' && hint) {
          if (!this.addresses.includes(hint)) this.addresses.push(hint);
          this.current = this.addresses.indexOf(hint);
        } else {
          this.current = (this.current + 1) % this.addresses.length;
        }
        this.logger.debug({ master: address, code: err.code }, 'master unreachable, trying another');
      }
    }
    throw lastError ?? new DfsError('UNAVAILABLE', 'no master reachable');
  }

  close(): void {
    this.pool.close();
  }
}
