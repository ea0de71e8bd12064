import { assert } from '../common/assert.js';
import { DfsError } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion } from '../common/ids.js';
import type { LandedAppend } from './chunk-meta-db.js';
import type { Lineage } from './lineage.js';

export type ImportState = 'receiving' | 'complete' | 'failed';

/**
 * One chunk being received here at one version, as peers following it
 * (cut-through) see it: bytes [0, frontier) of that version are written and
 * checksummed in the store under `epoch`, the rest will follow up to
 * `expectedLength`. A fetch that has to start over (another version, or a
 * source that cannot vouch for what is here) begins a new Import and the old
 * one fails, so a follower never mixes bytes of two attempts.
 */
export class Import {
  private stateNow: ImportState = 'receiving';
  private frontierNow: number;
  private waiters: (() => void)[] = [];
  /** Where record appends landed in these bytes, as the source sent them at the end of the copy. */
  private readonly landed = new Map<string, LandedAppend>();
  private landedBytes = 0;

  constructor(
    readonly handle: ChunkHandle,
    readonly version: ChunkVersion,
    readonly epoch: number,
    readonly expectedLength: number,
    /** The lineage the replica will have: its source's. */
    readonly lineage: Lineage,
    /** Bytes already in place when it began (a delta's reused prefix). */
    readonly reused: number,
  ) {
    assert(reused <= expectedLength, `import of chunk ${handle} reuses ${reused} of ${expectedLength} bytes`);
    this.frontierNow = reused;
  }

  get state(): ImportState {
    return this.stateNow;
  }

  get frontier(): number {
    return this.frontierNow;
  }

  advance(to: number): void {
    assert(this.stateNow === 'receiving' && to >= this.frontierNow && to <= this.expectedLength, `import frontier ${this.frontierNow} -> ${to}`);
    if (to === this.frontierNow) return;
    this.frontierNow = to;
    this.wake();
  }

  /** Records never overlap, so a source naming more bytes of records than the chunk holds is lying. */
  addAppends(appends: readonly LandedAppend[]): void {
    for (const a of appends) {
      const key = `${a.clientId}\0${a.seq}`;
      this.landedBytes += a.length - (this.landed.get(key)?.length ?? 0);
      this.landed.set(key, a);
    }
    if (this.landedBytes > this.expectedLength) {
      throw new DfsError('INVALID_ARGUMENT', `landed appends of chunk ${this.handle} cover ${this.landedBytes} bytes, more than its ${this.expectedLength}`);
    }
  }

  get appends(): LandedAppend[] {
    return [...this.landed.values()];
  }

  complete(): void {
    assert(this.stateNow === 'receiving' && this.frontierNow === this.expectedLength, 'an import completes only with every byte');
    this.stateNow = 'complete';
    this.wake();
  }

  fail(): void {
    if (this.stateNow !== 'receiving') return;
    this.stateNow = 'failed';
    this.wake();
  }

  /** Resolves at the next change of frontier or state (event-driven: followers never poll). */
  changed(): Promise<void> {
    if (this.stateNow !== 'receiving') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

interface Fetching {
  readonly version: ChunkVersion;
  readonly controller: AbortController;
  /** The fetch this one waits for before it starts (itself waiting, maybe, for another). */
  readonly prior: Fetching | undefined;
  /** Settles when this fetch and every one before it have. */
  readonly done: Promise<void>;
  settled: boolean;
}

/**
 * What is being received on this server: at most one fetch per chunk (a
 * newer one aborts the older and waits for it to clean up), the import
 * peers may follow, and the (handle, version) pairs the distribution agent
 * has been asked for, so that a follower that arrives before the import
 * starts waits for it instead of failing.
 */
export class ImportRegistry {
  private readonly imports = new Map<ChunkHandle, Import>();
  private readonly fetching = new Map<ChunkHandle, Fetching>();
  private readonly expected = new Map<ChunkHandle, ChunkVersion>();
  private readonly startWaiters = new Map<ChunkHandle, Set<() => void>>();

  /**
   * Runs `fetch` (of `handle` at `version` or newer) as the only fetch of
   * the chunk. One already running for an older version is aborted (with
   * UNAVAILABLE); one for this version or newer is waited for, after which
   * `fetch` usually finds the chunk here. `controller` aborts this one.
   */
  async exclusive<T>(handle: ChunkHandle, version: ChunkVersion, controller: AbortController, fetch: () => Promise<T>): Promise<T> {
    const prior = this.fetching.get(handle);
    let finished!: () => void;
    const own = new Promise<void>((resolve) => (finished = resolve));
    const entry: Fetching = { version, controller, prior, done: prior === undefined ? own : Promise.all([own, prior.done]).then(() => undefined), settled: false };
    this.fetching.set(handle, entry);
    try {
      for (let p = prior; p !== undefined; p = p.prior) {
        if (!p.settled && p.version < version) p.controller.abort(new DfsError('UNAVAILABLE', `a fetch of chunk ${handle} at a newer version replaced this one`));
      }
      if (prior !== undefined) await Promise.race([prior.done, aborted(controller.signal)]);
      controller.signal.throwIfAborted();
      return await fetch();
    } finally {
      entry.settled = true;
      finished();
      const forget = (): void => {
        if (this.fetching.get(handle) === entry) this.fetching.delete(handle);
      };
      // Aborted while waiting, the ones before may still run: they stay abortable through this entry until they end.
      if (settled(entry)) forget();
      else void entry.done.then(forget);
    }
  }

  /** Aborts every fetch of `handle` and waits until they have cleaned up. */
  async abort(handle: ChunkHandle, reason: DfsError): Promise<void> {
    const latest = this.fetching.get(handle);
    for (let p = latest; p !== undefined; p = p.prior) if (!p.settled) p.controller.abort(reason);
    await latest?.done;
  }

  /** Aborts every fetch (the server is stopping) and waits for them to clean up. */
  async abortAll(reason: DfsError): Promise<void> {
    await Promise.all([...this.fetching.keys()].map((handle) => this.abort(handle, reason)));
  }

  isFetching(handle: ChunkHandle): boolean {
    return this.fetching.has(handle);
  }

  /** The version being fetched, if a fetch of `handle` runs. */
  fetchingVersion(handle: ChunkHandle): ChunkVersion | undefined {
    return this.fetching.get(handle)?.version;
  }

  /** Makes `imp` the one followers see; the one before it fails. */
  begin(imp: Import): void {
    this.imports.get(imp.handle)?.fail();
    this.imports.set(imp.handle, imp);
    const waiters = this.startWaiters.get(imp.handle);
    this.startWaiters.delete(imp.handle);
    for (const wake of waiters ?? []) wake();
  }

  /** Forgets `imp` (complete or failed); followers holding it read on. */
  end(imp: Import): void {
    if (this.imports.get(imp.handle) === imp) this.imports.delete(imp.handle);
  }

  /** A fetch of (handle, version) is coming (a distribution task): followers may wait for it. */
  expect(handle: ChunkHandle, version: ChunkVersion): void {
    this.expected.set(handle, version);
    const waiters = this.startWaiters.get(handle);
    this.startWaiters.delete(handle);
    for (const wake of waiters ?? []) wake();
  }

  unexpect(handle: ChunkHandle): void {
    this.expected.delete(handle);
  }

  /**
   * The import of `handle` at exactly `version` that a follower may read:
   * the one receiving now, or, if one is expected, the one that begins
   * within `waitMs`. With nothing expected yet, waits up to `awaitTaskMs`
   * for the task to arrive: the master sends every node its tasks at once,
   * so a child may ask before its parent has heard of the chunk, and failing
   * over at once would send it toward the origin. Undefined if there is none.
   */
  async follow(handle: ChunkHandle, version: ChunkVersion, waitMs: number, signal: AbortSignal, awaitTaskMs = 0): Promise<Import | undefined> {
    const taskDeadline = Date.now() + awaitTaskMs;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const imp = this.imports.get(handle);
      if (imp !== undefined && imp.version === version && imp.state !== 'failed') return imp;
      if (signal.aborted) return undefined;
      const expected = this.expected.get(handle);
      const left = (expected === version ? deadline : expected === undefined ? taskDeadline : 0) - Date.now();
      if (left <= 0) return undefined;
      await this.nextStart(handle, left, signal);
    }
  }

  private nextStart(handle: ChunkHandle, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.startWaiters.get(handle);
      if (waiters === undefined) {
        waiters = new Set();
        this.startWaiters.set(handle, waiters);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const set = this.startWaiters.get(handle);
        set?.delete(done);
        if (set?.size === 0) this.startWaiters.delete(handle);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function settled(entry: Fetching): boolean {
  for (let p: Fetching | undefined = entry; p !== undefined; p = p.prior) if (!p.settled) return false;
  return true;
}
