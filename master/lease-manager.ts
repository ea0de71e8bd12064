import { DfsError, isDfsError } from '../common/errors.js';
import { callUnary } from '../common/grpc-client-pool.js';
import { chunkVersion, type ChunkHandle, type ChunkVersion, type ServerId } from '../common/ids.js';
import type { ServerRef } from '../proto/generated/dfs/ServerRef.js';
import type { GrantLeaseResponse__Output } from '../proto/generated/dfs/chunk/GrantLeaseResponse.js';
import type { LeaderState } from './leader-state.js';
import type { MasterContext } from './master-context.js';
import type { LeaseRecord } from './lease-table.js';
import { choosePlacement } from './placement-policy.js';
import { usableReplicas } from './replica-views.js';

const GRANT_ATTEMPTS = 3;
const GRANT_TIMEOUT_MS = 5_000;

/**
 * Grants chunk leases. A grant bumps the chunk's version through the log
 * (so no replica can ever be ahead of the master), has the chosen primary
 * bring every participant to that version and a common length, and confirms
 * the version through the log only if all of them did. Replicas at or above
 * the confirmed version therefore hold every acknowledged mutation; anything
 * older is stale. Concurrent requests for one chunk share one grant.
 */
export class LeaseManager {
  private readonly inFlight = new Map<ChunkHandle, Promise<LeaseRecord>>();

  constructor(
    private readonly ctx: MasterContext,
    private readonly leader: LeaderState,
  ) {}

  async getLease(handle: ChunkHandle): Promise<LeaseRecord> {
    const existing = this.leader.leases.current(handle, this.ctx.clock.nowMs());
    if (existing !== undefined) return existing;
    let grant = this.inFlight.get(handle);
    if (grant === undefined) {
      // Marked before grant() looks for a copy, in the same turn: a copy and a grant exclude each other.
      this.leader.leases.beginGrant(handle);
      grant = this.grant(handle).finally(() => {
        this.inFlight.delete(handle);
        this.leader.leases.endGrant(handle);
      });
      this.inFlight.set(handle, grant);
    }
    return grant;
  }

  private async grant(handle: ChunkHandle): Promise<LeaseRecord> {
    const { ctx, leader } = this;
    if (!leader.leases.acceptingGrants(ctx.clock.nowMs())) {
      throw new DfsError('UNAVAILABLE', 'the master is waiting out leases granted before it started leading');
    }
    if (leader.replication.isCopying(handle)) throw new DfsError('UNAVAILABLE', `chunk ${handle} is being re-replicated`);
    const excluded = new Set<ServerId>();
    let lastError: DfsError | undefined;
    for (let attempt = 0; attempt < GRANT_ATTEMPTS; attempt++) {
      try {
        return await this.attempt(handle, excluded);
      } catch (err) {
        if (!isDfsError(err) || !err.retryable || err.code === 'NOT_LEADER') throw err;
        lastError = err;
        ctx.logger.warn({ handle, attempt, code: err.code, err: err.message }, 'lease grant attempt failed');
      }
    }
    throw new DfsError('UNAVAILABLE', `could not grant a lease on chunk ${handle}: ${lastError?.message}`, {
      cause: lastError,
    });
  }

  private async attempt(handle: ChunkHandle, excluded: Set<ServerId>): Promise<LeaseRecord> {
    const { ctx, leader } = this;
    const chunk = ctx.state().chunk(handle);
    if (chunk === undefined) throw new DfsError('NOT_FOUND', `chunk ${handle} not found`);
    const participants = this.chooseParticipants(handle, chunk.confirmedVersion, excluded);
    const [primary, ...secondaries] = participants;
    const version = chunkVersion(chunk.version + 1);
    await ctx.propose({ timeUs: String(ctx.clock.wallUs()), bumpVersion: { handle: String(handle), version: String(version) } });
    let response: GrantLeaseResponse__Output;
    try {
      const client = ctx.chunkservers.get(primary!.address);
      response = await callUnary(
        client,
        'GrantLease',
        {
          handle: String(handle),
          version: String(version),
          minVersion: String(chunk.confirmedVersion),
          secondaries: secondaries.map(serverRef),
          leaseDurationMs: ctx.config.leaseDurationMs,
          chunkSizeBytes: String(ctx.state().config().chunkSizeBytes),
          // A file on every node is distributed only once no lease is held: let the lease go soon after its writes stop.
          idleReleaseMs: ctx.state().chunkGoal(handle)?.all === true ? ctx.config.distributionLeaseIdleMs : 0,
        },
        GRANT_TIMEOUT_MS,
      );
    } catch (err) {
      const failure = err as DfsError;
      const failed = failure.details.failedServerIds;
      if (failure.code === 'CHAIN_FAILURE' && failed?.length) {
        for (const id of failed) {
          excluded.add(id as ServerId);
          leader.locations.condemn(id as ServerId, handle);
        }
      } else {
        excluded.add(primary!.id);
        if (failure.details.fromTransport) leader.registry.markUnreachable(primary!.id, ctx.clock.nowMs());
      }
      throw failure.retryable ? failure : new DfsError('UNAVAILABLE', failure.message, { cause: failure });
    }
    await ctx.propose({ timeUs: String(ctx.clock.wallUs()), confirmVersion: { handle: String(handle), version: String(version) } });
    const now = ctx.clock.nowMs();
    for (const p of participants) leader.locations.set(p.id, handle, version);
    if (participants.length < (ctx.state().chunkGoal(handle)?.replication ?? 0)) leader.replication.mark(handle);
    ctx.logger.debug({ handle, version, primary: primary!.id, length: response.length }, 'lease granted');
    return leader.leases.record({
      handle,
      version,
      primary: primary!.id,
      secondaries: secondaries.map((s) => s.id),
      // Counted from the primary's answer: the primary counts from when it
      // received the grant, which was earlier, so its lease ends first.
      expiresAtMs: now + ctx.config.leaseDurationMs,
    });
  }

  /** The primary first, then the pipeline order. */
  private chooseParticipants(handle: ChunkHandle, confirmed: ChunkVersion, excluded: ReadonlySet<ServerId>) {
    const { ctx, leader } = this;
    if (confirmed === 0) {
      // Never written: place it afresh (replicas that failed attempts created are empty and get collected).
      const goal = ctx.state().chunkGoal(handle);
      const live = leader.placementTargets(ctx.clock.nowMs());
      // A file on every node is written by its durable tier only; the distribution tier follows.
      const count = goal === undefined ? 1 : goal.replication;
      const chosen = choosePlacement(live, count, {
        existing: [],
        exclude: excluded,
        minFreeBytes: ctx.state().config().chunkSizeBytes,
        highWaterMark: ctx.config.highWaterMark,
        random: ctx.random,
      });
      if (chosen.length === 0) {
        throw live.length === 0
          ? new DfsError('UNAVAILABLE', 'no live chunkserver')
          : new DfsError('NO_SPACE', 'no chunkserver has room for a new chunk');
      }
      return chosen.map((c) => leader.registry.get(c.id)!);
    }
    const usable = usableReplicas(leader, handle, confirmed).filter((s) => !excluded.has(s.id));
    if (usable.length === 0) throw new DfsError('UNAVAILABLE', `no live replica of chunk ${handle}`);
    // The least busy primary carries the pipeline's heaviest end.
    usable.sort((a, b) => activity(a) - activity(b));
    const goal = ctx.state().chunkGoal(handle);
    // A file on every node: only its durable tier takes part in writes; the others get the new version by distribution.
    if (goal?.all === true) return usable.slice(0, Math.max(1, goal.replication));
    return usable;
  }
}

function activity(s: { load: { activeReads: number; activeWrites: number; activeCopies: number } }): number {
  return s.load.activeReads + s.load.activeWrites + s.load.activeCopies;
}

export function serverRef(s: { id: ServerId; address: string; zone: string; rack: string }): ServerRef {
  return { id: s.id, address: s.address, zone: s.zone, rack: s.rack };
}
