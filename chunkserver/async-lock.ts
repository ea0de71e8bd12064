import { assert } from '../common/assert.js';

/**
 * Block-range locking for one chunk, granted in request order.
 *
 * A request names a half-open range of block indices and a mode. It is
 * registered synchronously when `acquire` is called and waits for every
 * earlier request that overlaps it and conflicts (at least one of the two is
 * exclusive). Dependencies are fixed at registration, so a later request can
 * never overtake an earlier conflicting one, while requests on disjoint
 * ranges (appends at increasing offsets) run concurrently. `end` may be
 * `Infinity` for "every block, including ones not yet written".
 *
 * The queue is bounded by its callers: the write pipeline bounds the
 * mutations it has in flight per chunk and the RPC layer bounds reads.
 */
export type LockMode = 'shared' | 'exclusive';

/** Gives the lock back; call exactly once. */
export type Release = () => void;

interface Request {
  readonly first: number;
  readonly end: number;
  readonly exclusive: boolean;
  /** Earlier conflicting requests not yet released. */
  blockers: number;
  /** Later requests that wait for this one. */
  readonly dependents: Request[];
  grant: (() => void) | undefined;
  released: boolean;
}

export class BlockRangeLock {
  /** Requests not yet released (granted or waiting), in request order. */
  private readonly requests: Request[] = [];

  acquire(first: number, end: number, mode: LockMode): Promise<Release> {
    assert(Number.isSafeInteger(first) && first >= 0 && first < end, `bad block range [${first}, ${end})`);
    const request: Request = {
      first,
      end,
      exclusive: mode === 'exclusive',
      blockers: 0,
      dependents: [],
      grant: undefined,
      released: false,
    };
    for (const earlier of this.requests) {
      if (earlier.first < end && first < earlier.end && (request.exclusive || earlier.exclusive)) {
        request.blockers++;
        earlier.dependents.push(request);
      }
    }
    this.requests.push(request);
    const release: Release = () => this.release(request);
    if (request.blockers === 0) return Promise.resolve(release);
    return new Promise<Release>((resolve) => {
      request.grant = () => resolve(release);
    });
  }

  /** Requests registered and not yet released. */
  get pending(): number {
    return this.requests.length;
  }

  private release(request: Request): void {
    assert(!request.released, 'block range lock released twice');
    assert(request.blockers === 0, 'block range lock released before it was granted');
    request.released = true;
    const index = this.requests.indexOf(request);
    assert(index >= 0, 'released request is not registered');
    this.requests.splice(index, 1);
    for (const dependent of request.dependents) {
      dependent.blockers--;
      if (dependent.blockers === 0) {
        assert(dependent.grant !== undefined, 'a blocked request has no grant callback');
        dependent.grant();
      }
    }
  }
}
