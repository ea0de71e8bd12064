import { expect } from 'chai';
import { chunkHandle, chunkVersion, serverId, type ServerId } from '../../../common/ids.js';
import type { PlacementCandidate } from '../../../master/placement-policy.js';
import { planReplication, type ChunkReplicationState } from '../../../master/replication-planner.js';

const server = (id: string, used = 0): PlacementCandidate => ({
  id: serverId(id),
  zone: 'z',
  rack: 'r',
  capacityBytes: 1_000_000_000,
  usedBytes: used,
  activity: 0,
});
const live = ['a', 'b', 'c', 'd', 'e'].map((id) => server(id));
const options = { copiesPerServerMax: 2, minFreeBytes: 0, highWaterMark: 1, random: () => 0.5 };

function chunk(handle: number, valid: string[], goal = 3, extra: Partial<ChunkReplicationState> = {}): ChunkReplicationState {
  return {
    handle: chunkHandle(handle),
    version: chunkVersion(1),
    goal,
    valid: valid.map((id) => live.find((s) => s.id === id)!),
    draining: [],
    released: [],
    down: 0,
    copyingTo: [],
    leased: false,
    moving: false,
    keepSurplus: false,
    ...extra,
  };
}

describe('replication planner', () => {
  it('copies an under-replicated chunk to a server that lacks it, from one that has it', () => {
    const plan = planReplication([chunk(1, ['a', 'b'])], live, new Map(), options);
    expect(plan.copies).to.have.length(1);
    const copy = plan.copies[0]!;
    expect(['c', 'd', 'e']).to.include(copy.target);
    expect(['a', 'b']).to.include(copy.sources[0]);
    expect(copy.sources).to.have.members(['a', 'b']);
  });

  it('serves the most endangered chunk first when copies are scarce', () => {
    const scarce = { ...options, copiesPerServerMax: 1 };
    const plan = planReplication([chunk(1, ['a', 'b']), chunk(2, ['c'])], live, new Map(), scarce);
    expect(plan.copies[0]!.handle).to.equal(2);
  });

  it('never lets a server take part in more than the limit of copies', () => {
    const chunks = Array.from({ length: 20 }, (_, i) => chunk(i + 1, ['a']));
    const plan = planReplication(chunks, live, new Map(), options);
    const load = new Map<ServerId, number>();
    for (const c of plan.copies) for (const id of [c.target, c.sources[0]!]) load.set(id, (load.get(id) ?? 0) + 1);
    for (const [, n] of load) expect(n).to.be.at.most(2);
    expect(plan.deferred.length).to.be.greaterThan(0);
  });

  it('counts copies in flight toward the goal and toward server limits', () => {
    const plan = planReplication([chunk(1, ['a', 'b'], 3, { copyingTo: [serverId('c')] })], live, new Map(), options);
    expect(plan.copies).to.have.length(0);
    expect(plan.healthy).to.deep.equal([1]);
    const busy = planReplication([chunk(2, ['a'])], live, new Map([[serverId('a'), 2]]), options);
    expect(busy.copies).to.have.length(0);
    expect(busy.deferred).to.deep.equal([2]);
  });

  it('waits for a lease to lapse before copying a leased chunk', () => {
    const plan = planReplication([chunk(1, ['a', 'b'], 3, { leased: true })], live, new Map(), options);
    expect(plan.copies).to.have.length(0);
    expect(plan.blockedByLease).to.deep.equal([1]);
  });

  it('reports a chunk with no usable replica as missing', () => {
    const plan = planReplication([chunk(1, [])], live, new Map(), options);
    expect(plan.missing).to.deep.equal([1]);
    expect(plan.copies).to.have.length(0);
  });

  it('trims replicas above the goal, fullest server first, but not while leased', () => {
    const full = [server('a', 900_000_000), server('b', 100), server('c', 200), server('d', 300)];
    const over: ChunkReplicationState = { ...chunk(1, []), valid: full };
    const plan = planReplication([over], live, new Map(), options);
    expect(plan.excess).to.deep.equal([{ handle: 1, server: 'a' }]);
    expect(planReplication([{ ...over, leased: true }], live, new Map(), options).excess).to.have.length(0);
  });

  it('trims nothing while a copy or a rebalancing move of the chunk is in flight', () => {
    const over: ChunkReplicationState = { ...chunk(1, ['a', 'b', 'c', 'd']) };
    expect(planReplication([{ ...over, moving: true }], live, new Map(), options).excess).to.deep.equal([]);
    expect(planReplication([{ ...over, copyingTo: [serverId('e')] }], live, new Map(), options).excess).to.deep.equal([]);
  });

  it('keeps the replicas of a file on every node (replication all) above its durable goal', () => {
    const over: ChunkReplicationState = { ...chunk(1, ['a', 'b', 'c', 'd']), keepSurplus: true };
    const plan = planReplication([over], live, new Map(), options);
    expect(plan.excess).to.deep.equal([]);
    expect(plan.healthy).to.deep.equal([1]);
  });

  it('copies a draining replica elsewhere (reading from it), and keeps it', () => {
    const draining = live.find((s) => s.id === 'c')!;
    const plan = planReplication([chunk(1, ['a', 'b'], 3, { draining: [draining] })], live.filter((s) => s.id !== 'c'), new Map(), options);
    expect(plan.copies).to.have.length(1);
    expect(['d', 'e']).to.include(plan.copies[0]!.target);
    expect(plan.copies[0]!.sources).to.include('c');
    expect(plan.excess).to.deep.equal([]);
    // Its only copy is on a draining server: still copied, not missing.
    const alone = planReplication([chunk(2, [], 2, { draining: [draining] })], live.filter((s) => s.id !== 'c'), new Map(), options);
    expect(alone.missing).to.deep.equal([]);
    expect(alone.copies.map((c) => c.sources[0])).to.deep.equal(['c', 'c']);
  });

  it('deletes released replicas once the goal is met without them, not before', () => {
    const released = live.find((s) => s.id === 'e')!;
    const met = planReplication([chunk(1, ['a', 'b', 'c'], 3, { released: [released] })], live, new Map(), options);
    expect(met.excess).to.deep.equal([{ handle: 1, server: 'e' }]);
    const short = planReplication([chunk(1, ['a', 'b'], 3, { released: [released] })], live, new Map(), options);
    expect(short.excess).to.deep.equal([]);
    expect(short.copies).to.have.length(1);
  });

  it('counts replicas on a server in maintenance that is down: no copy', () => {
    const plan = planReplication([chunk(1, ['a', 'b'], 3, { down: 1 })], live, new Map(), options);
    expect(plan.copies).to.deep.equal([]);
    expect(plan.healthy).to.deep.equal([1]);
  });

  it('places no copy above the high-water mark', () => {
    const nearlyFull = [server('x', 950_000_000), server('y', 100)];
    const plan = planReplication([chunk(1, ['a'], 2)], nearlyFull, new Map(), { ...options, minFreeBytes: 1_000_000, highWaterMark: 0.9 });
    expect(plan.copies.map((c) => c.target)).to.deep.equal(['y']);
  });
});
