import { expect } from 'chai';
import type { RaftConfig } from '../../../raft/core/config.js';
import { nodeId } from '../../../raft/core/types.js';
import { msg, Network, newNode, ofType } from './harness.js';

const LEASE_MS = 700;

/** A three-node group with lease reads on a clock the test moves; n1 leads. */
function leasedGroup(): { net: Network; clock: { now: number } } {
  const clock = { now: 1_000 };
  // random 0.99: election timeouts of 19 ticks, so the ticks below start no election.
  const config: Partial<RaftConfig> = { leaseReadMs: LEASE_MS, monotonicMs: () => clock.now, random: () => 0.99 };
  const net = Network.of(3, config);
  // Freshly started members refuse votes for electionTicks ticks (see the restart test).
  for (const id of ['n1', 'n2', 'n3']) net.tick(id, 10);
  net.campaign('n1');
  net.propose('n1', 'x');
  return { net, clock };
}

/** Heartbeats n1 sent for a read: what a read costs without a lease. */
function heartbeatsFor(net: Network, context: string): number {
  return net.delivered.filter((m) => m.type === 'heartbeat' && m.from === 'n1' && m.context === context).length;
}

describe('Raft lease reads (thesis §6.4.1)', () => {
  it('after a heartbeat round a quorum acknowledged, the leader answers reads at once until the lease ends', () => {
    const { net, clock } = leasedGroup();
    const n1 = net.node('n1');
    n1.core.readIndex('r1');
    net.send();
    expect(heartbeatsFor(net, 'r1')).to.equal(2);
    expect(n1.readStates.map((r) => r.context)).to.deep.equal(['r1']);

    clock.now += LEASE_MS - 1;
    n1.core.readIndex('r2');
    n1.drain();
    expect(heartbeatsFor(net, 'r2')).to.equal(0);
    expect(n1.readStates.at(-1)).to.deep.equal({ index: 2, context: 'r2' });

    clock.now += 1;
    n1.core.readIndex('r3');
    const out = n1.drain();
    expect(ofType(out, 'heartbeat').map((m) => m.context)).to.deep.equal(['r3', 'r3']);
    expect(n1.readStates.map((r) => r.context)).to.not.include('r3');
  });

  it('the lease starts when the round was sent, not when its acknowledgements arrived', () => {
    const { net, clock } = leasedGroup();
    const n1 = net.node('n1');
    n1.core.readIndex('r1');
    n1.drain();
    clock.now += 500;
    n1.core.step(msg('heartbeatResponse', { from: 'n2', to: 'n1', term: 1, context: 'r1' }));
    n1.drain();
    expect(n1.readStates.map((r) => r.context)).to.deep.equal(['r1']);
    clock.now += LEASE_MS - 500;
    n1.core.readIndex('r2');
    expect(ofType(n1.drain(), 'heartbeat')).to.have.length(2);
    expect(n1.readStates.map((r) => r.context)).to.deep.equal(['r1']);
  });

  it('a leader cut off from its followers never answers past its lease', () => {
    const { net, clock } = leasedGroup();
    const n1 = net.node('n1');
    n1.core.readIndex('r1');
    net.send();
    net.isolate('n1');
    clock.now += LEASE_MS;
    n1.core.readIndex('r2');
    net.send();
    expect(n1.readStates.map((r) => r.context)).to.deep.equal(['r1']);
  });

  it('a leadership transfer ends the lease for the rest of the term, even once the transfer is abandoned', () => {
    const { net } = leasedGroup();
    const n1 = net.node('n1');
    n1.core.readIndex('r1');
    net.send();
    // The transferee never hears it: only n1's side is under test.
    net.drop((m) => m.type === 'timeoutNow');
    n1.core.transferLeadership(nodeId('n2'));
    net.send();
    // The transfer times out after electionTicks; n1 is still the leader.
    net.tick('n1', 10);
    expect(n1.status.role).to.equal('leader');
    expect(n1.status.leadTransferee).to.equal(null);
    for (const context of ['r2', 'r3']) {
      const before = net.delivered.length;
      n1.core.readIndex(context);
      net.send();
      const beats = net.delivered.slice(before).filter((m) => m.type === 'heartbeat' && m.context === context);
      expect(beats, context).to.have.length(2);
      expect(n1.readStates.map((r) => r.context)).to.include(context);
    }
  });

  it('a membership change ends the lease', () => {
    const { net } = leasedGroup();
    const n1 = net.node('n1');
    n1.core.readIndex('r1');
    net.send();
    n1.core.applyConfChange({ type: 'addLearner', nodeId: nodeId('n4'), context: '' });
    n1.core.readIndex('r2');
    expect(ofType(n1.drain(), 'heartbeat').map((m) => m.context)).to.include('r2');
  });

  it('a member refuses votes for electionTicks ticks after it starts, since a leader may hold a lease on its ack', () => {
    const n = newNode('n2', ['n1', 'n2', 'n3'], { leaseReadMs: LEASE_MS, monotonicMs: () => 0 }, { term: 1 });
    n.core.step(msg('vote', { from: 'n3', to: 'n2', term: 2, lastIndex: 5, lastTerm: 1 }));
    expect(ofType(n.drain(), 'voteResponse')).to.have.length(0);
    expect(n.status.term).to.equal(1);
    for (let i = 0; i < 10; i++) n.core.tick();
    n.drain();
    n.core.step(msg('vote', { from: 'n3', to: 'n2', term: 3, lastIndex: 5, lastTerm: 1 }));
    expect(ofType(n.drain(), 'voteResponse').map((m) => m.reject)).to.deep.equal([false]);
  });

  it('without lease reads a freshly started member votes at once', () => {
    const n = newNode('n2', ['n1', 'n2', 'n3'], {}, { term: 1 });
    n.core.step(msg('vote', { from: 'n3', to: 'n2', term: 2, lastIndex: 5, lastTerm: 1 }));
    expect(ofType(n.drain(), 'voteResponse').map((m) => m.reject)).to.deep.equal([false]);
  });
});
