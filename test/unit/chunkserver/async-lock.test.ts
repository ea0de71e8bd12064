import { expect } from 'chai';
import { AssertionError } from '../../../common/assert.js';
import { BlockRangeLock, type Release } from '../../../chunkserver/async-lock.js';

/** Resolves after every pending microtask and I/O callback has run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Acquires and records the order of grants. */
function track(lock: BlockRangeLock, log: string[], name: string, first: number, end: number, mode: 'shared' | 'exclusive'): Promise<Release> {
  return lock.acquire(first, end, mode).then((release) => {
    log.push(name);
    return release;
  });
}

describe('BlockRangeLock', () => {
  it('grants exclusive requests on disjoint ranges at once', async () => {
    const lock = new BlockRangeLock();
    const log: string[] = [];
    const a = track(lock, log, 'a', 0, 16, 'exclusive');
    const b = track(lock, log, 'b', 16, 32, 'exclusive');
    const c = track(lock, log, 'c', 32, 48, 'exclusive');
    await settle();
    expect(log).to.deep.equal(['a', 'b', 'c']);
    for (const p of [a, b, c]) (await p)();
    expect(lock.pending).to.equal(0);
  });

  it('makes an overlapping exclusive request wait for the earlier one', async () => {
    const lock = new BlockRangeLock();
    const log: string[] = [];
    const a = track(lock, log, 'a', 0, 2, 'exclusive');
    const b = track(lock, log, 'b', 1, 3, 'exclusive');
    await settle();
    expect(log).to.deep.equal(['a']);
    (await a)();
    await settle();
    expect(log).to.deep.equal(['a', 'b']);
    (await b)();
  });

  it('never lets a later request overtake an earlier conflicting one, even through a chain', async () => {
    const lock = new BlockRangeLock();
    const log: string[] = [];
    const a = track(lock, log, 'a', 0, 2, 'exclusive');
    const b = track(lock, log, 'b', 1, 3, 'exclusive');
    // c does not overlap a, but overlaps b, which waits for a.
    const c = track(lock, log, 'c', 2, 3, 'exclusive');
    await settle();
    expect(log).to.deep.equal(['a']);
    (await a)();
    await settle();
    expect(log).to.deep.equal(['a', 'b']);
    (await b)();
    await settle();
    expect(log).to.deep.equal(['a', 'b', 'c']);
    (await c)();
  });

  it('lets shared requests run together and makes an exclusive one wait for all of them', async () => {
    const lock = new BlockRangeLock();
    const log: string[] = [];
    const r1 = track(lock, log, 'r1', 0, 4, 'shared');
    const r2 = track(lock, log, 'r2', 2, 6, 'shared');
    const w = track(lock, log, 'w', 3, 4, 'exclusive');
    const r3 = track(lock, log, 'r3', 3, 5, 'shared');
    await settle();
    expect(log).to.deep.equal(['r1', 'r2']);
    (await r1)();
    await settle();
    expect(log).to.deep.equal(['r1', 'r2']);
    (await r2)();
    await settle();
    expect(log).to.deep.equal(['r1', 'r2', 'w']);
    (await w)();
    await settle();
    expect(log).to.deep.equal(['r1', 'r2', 'w', 'r3']);
    (await r3)();
  });

  it('treats an infinite range as covering blocks not yet written', async () => {
    const lock = new BlockRangeLock();
    const log: string[] = [];
    const all = track(lock, log, 'all', 0, Infinity, 'exclusive');
    const far = track(lock, log, 'far', 1_000_000, 1_000_001, 'exclusive');
    await settle();
    expect(log).to.deep.equal(['all']);
    (await all)();
    await settle();
    expect(log).to.deep.equal(['all', 'far']);
    (await far)();
  });

  it('asserts on a double release', async () => {
    const lock = new BlockRangeLock();
    const release = await lock.acquire(0, 1, 'exclusive');
    release();
    expect(release).to.throw(AssertionError);
  });
});
