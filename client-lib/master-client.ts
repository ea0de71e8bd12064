import type { BackoffPolicy } from '../common/backoff.js';
import { DfsError } from '../common/errors.js';
import { ClientPool, callUnary } from '../common/grpc-client-pool.js';
import { metadataChannelOptions } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { masterServices } from '../proto/load.js';
import type { MetadataClient } from '../proto/generated/dfs/master/Metadata.js';
import type { AdminClient } from '../proto/generated/dfs/master/Admin.js';
import type { RequestId } from '../proto/generated/dfs/RequestId.js';
import * as grpc from '@grpc/grpc-js';
import { withRetry } from './retry.js';

type Method<C> = {
  [K in keyof C]: C[K] extends (argument: infer _A, callback: grpc.requestCallback<infer _R>) => grpc.ClientUnaryCall ? K : never;
}[keyof C];
type Req<F> = F extends (argument: infer A, callback: grpc.requestCallback<infer _R>) => grpc.ClientUnaryCall ? A : never;
type Res<F> = F extends (argument: infer _A, callback: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? R : never;

/**
 * Metadata calls to whichever master leads. Follows NOT_LEADER hints, moves
 * to the next address when one is down, and retries retryable failures with
 * backoff. A mutation's request id is fixed before the first attempt, so a
 * retry the master already applied is answered, not applied again.
 */
export class MasterClient {
  private readonly metadata = new ClientPool<MetadataClient>(masterServices().dfs.master.Metadata, metadataChannelOptions());
  private readonly admin = new ClientPool<AdminClient>(masterServices().dfs.master.Admin, metadataChannelOptions());
  private readonly addresses: string[];
  private current = 0;
  private seq = 0;

  constructor(
    addresses: readonly string[],
    readonly clientId: string,
    private readonly options: { retry: BackoffPolicy; callTimeoutMs: number; random: () => number; logger: Logger },
  ) {
    if (addresses.length === 0) throw new DfsError('INVALID_ARGUMENT', 'no master address given');
    this.addresses = [...addresses];
  }

  /** A fresh id for one mutation; reuse it for every retry of that mutation. */
  requestId(): RequestId {
    return { clientId: this.clientId, seq: String(++this.seq) };
  }

  call<K extends Method<MetadataClient>>(method: K, request: Req<MetadataClient[K]>): Promise<Res<MetadataClient[K]>> {
    return this.withLeader((address) =>
      callUnary(this.metadata.get(address), method as never, request as never, this.options.callTimeoutMs),
    ) as Promise<Res<MetadataClient[K]>>;
  }

  callAdmin<K extends Method<AdminClient>>(method: K, request: Req<AdminClient[K]>): Promise<Res<AdminClient[K]>> {
    return this.withLeader((address) =>
      callUnary(this.admin.get(address), method as never, request as never, this.options.callTimeoutMs),
    ) as Promise<Res<AdminClient[K]>>;
  }

  private withLeader<T>(fn: (address: string) => Promise<T>): Promise<T> {
    return withRetry(
      this.options.retry,
      this.options.random,
      () => fn(this.addresses[this.current]!),
      (err) => {
        const hint = err.details.leaderHint;
        if (err.code === 'NOT_LEADER' && hint) {
          if (!this.addresses.includes(hint)) this.addresses.push(hint);
          this.current = this.addresses.indexOf(hint);
        } else if (err.code === 'NOT_LEADER' || err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT') {
          this.current = (this.current + 1) % this.addresses.length;
        }
        this.options.logger.debug({ code: err.code, next: this.addresses[this.current] }, 'retrying a master call');
      },
    );
  }

  close(): void {
    this.metadata.close();
    this.admin.close();
  }
}
