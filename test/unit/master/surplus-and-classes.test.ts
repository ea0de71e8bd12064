import { expect } from 'chai';
import { chunkVersion, serverId } from '../../../common/ids.js';
import type { PlacementCandidate } from '../../../master/placement-policy.js';
import { atRisk, chunkHealth, classifyReplicas, type ReplicaFacts } from '../../../master/replica-classes.js';
import { chooseSurplus } from '../../../master/surplus-planner.js';

const candidate = (id: string, used: number, zone = 'z', rack = 'r', activity = 0): PlacementCandidate => ({
  id: serverId(id),
  zone,
  rack,
  capacityBytes: 100,
  usedBytes: used,
  activity,
});

describe('surplus planner', () => {
  it('drops the replicas on the fullest servers, never below the goal', () => {
    const replicas = [candidate('a', 10), candidate('b', 90), candidate('c', 50), candidate('d', 70), candidate('e', 20)];
    expect(chooseSurplus(replicas, 3).map((c) => c.id)).to.deep.equal(['b', 'd']);
    expect(chooseSurplus(replicas, 5)).to.deep.equal([]);
    expect(chooseSurplus(replicas, 7)).to.deep.equal([]);
  });

  it('keeps zones and racks before fullness', () => {
    const replicas = [candidate('a', 90, 'z1', 'r1'), candidate('b', 10, 'z2', 'r1'), candidate('c', 20, 'z2', 'r2'), candidate('d', 30, 'z2', 'r2')];
    // a is the fullest but the only one in z1; of z2's, c and d share a rack.
    expect(chooseSurplus(replicas, 3).map((c) => c.id)).to.deep.equal(['d']);
    expect(chooseSurplus(replicas, 2).map((c) => c.id)).to.deep.equal(['d', 'c']);
  });

  it('breaks a tie in fullness by load', () => {
    expect(chooseSurplus([candidate('a', 50, 'z', 'r', 0), candidate('b', 50, 'z', 'r', 10)], 1).map((c) => c.id)).to.deep.equal(['b']);
  });
});

describe('replica classes and chunk health', () => {
  const fact = (server: string, over: Partial<ReplicaFacts> = {}): ReplicaFacts => ({
    server: serverId(server),
    version: chunkVersion(5),
    alive: true,
    condemned: false,
    adminState: 'active',
    ...over,
  });

  it('sorts replicas by what they are worth', () => {
    const classes = classifyReplicas(
      [
        fact('a'),
        fact('m', { adminState: 'maintenance' }),
        fact('d', { adminState: 'decommissioning' }),
        fact('x', { adminState: 'decommissioned' }),
        fact('down', { adminState: 'maintenance', alive: false }),
        fact('dead', { alive: false }),
        fact('old', { version: chunkVersion(4) }),
        fact('bad', { condemned: true }),
      ],
      chunkVersion(5),
    );
    expect(classes).to.deep.equal({ counted: ['a', 'm'], draining: ['d'], released: ['x'], down: ['down'], stale: ['old'], condemned: ['bad'] });
  });

  it('judges health against the goal: only counted replicas count', () => {
    const v = chunkVersion(5);
    expect(chunkHealth(classifyReplicas([fact('a'), fact('b'), fact('c')], v), 3)).to.equal('healthy');
    expect(chunkHealth(classifyReplicas([fact('a'), fact('b'), fact('c', { adminState: 'decommissioning' })], v), 3)).to.equal('under-replicated');
    expect(chunkHealth(classifyReplicas([fact('a'), fact('b'), fact('c'), fact('d')], v), 3)).to.equal('over-replicated');
    const stale = chunkHealth(classifyReplicas([fact('a', { version: chunkVersion(4) })], v), 3);
    expect(stale).to.equal('unavailable');
    expect(atRisk(stale)).to.equal(true);
    expect(chunkHealth(classifyReplicas([], v), 3)).to.equal('missing');
    expect(atRisk('missing')).to.equal(true);
    expect(atRisk('under-replicated')).to.equal(false);
    // Only on a server in maintenance that is down: not lost, but nothing can be read now.
    expect(chunkHealth(classifyReplicas([fact('m', { adminState: 'maintenance', alive: false })], v), 1)).to.equal('unavailable');
  });
});
