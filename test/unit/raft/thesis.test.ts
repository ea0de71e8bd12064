import { expect } from 'chai';
import { isRaftError } from '../../../raft/core/errors.js';
import { nodeId } from '../../../raft/core/types.js';
import { bytes, deliver, electLeader, msg, Network, newNode, ofType } from './harness.js';

const THREE = ['n1', 'n2', 'n3'];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isRaftError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('Thesis §9.6: PreVote', () => {
  it('Thesis §9.6: a pre-candidate asks for votes at term+1 without changing its own term or vote', () => {
    const n = newNode('n1', THREE, { preVote: true }, { term: 4 });
    n.core.campaign();
    const out = n.drain();
    expect(n.status.role).to.equal('preCandidate');
    expect(n.status.term).to.equal(4);
    expect(n.status.vote).to.equal(null);
    const pre = ofType(out, 'preVote');
    expect(pre.map((m) => m.to).sort()).to.deep.equal(['n2', 'n3']);
    expect(pre.every((m) => m.term === 5)).to.equal(true);
  });

  it('Thesis §9.6: a pre-candidate that gathers a majority of pre-votes starts a real election', () => {
    const n = newNode('n1', THREE, { preVote: true }, { term: 4 });
    n.core.campaign();
    n.drain();
    const out = deliver(n, msg('preVoteResponse', { from: 'n2', term: 5 }));
    expect(n.status.role).to.equal('candidate');
    expect(n.status.term).to.equal(5);
    expect(ofType(out, 'vote')).to.have.length(2);
  });

  it('Thesis §9.6: a server grants a pre-vote without changing its own term or vote', () => {
    const n = newNode('n2', THREE, { preVote: true, checkQuorum: false }, { term: 4, vote: 'n3' });
    const out = deliver(n, msg('preVote', { from: 'n1', to: 'n2', term: 5 }));
    expect(out[0]).to.include({ type: 'preVoteResponse', reject: false, term: 5 });
    expect(n.status.term).to.equal(4);
    expect(n.status.vote).to.equal('n3');
  });

  it('Thesis §9.6: a server denies a pre-vote to a candidate whose log is behind', () => {
    const n = newNode('n2', THREE, { preVote: true }, { log: [1, 2], term: 2 });
    const out = deliver(n, msg('preVote', { from: 'n1', to: 'n2', term: 3, lastIndex: 5, lastTerm: 1 }));
    expect(out[0]).to.include({ type: 'preVoteResponse', reject: true });
  });

  it('Thesis §9.6: a partitioned server that rejoins does not disrupt a stable leader', () => {
    const net = Network.of(3, { preVote: true, checkQuorum: true });
    net.campaign('n1');
    net.isolate('n3');
    net.tick('n3', 100);
    expect(net.node('n3').status.term).to.equal(1);
    net.heal();
    for (let i = 0; i < 30; i++) {
      net.tick('n1');
      net.tick('n2');
      net.tick('n3');
    }
    expect(net.node('n1').status.role).to.equal('leader');
    expect(net.node('n1').status.term).to.equal(1);
    expect(net.node('n3').status.leader).to.equal('n1');
  });
});

describe('Thesis §6.2: CheckQuorum and the leader lease', () => {
  it('Thesis §6.2: a leader that hears from no quorum within an election timeout steps down', () => {
    const net = Network.of(3, { checkQuorum: true });
    net.campaign('n1');
    net.isolate('n1');
    net.tick('n1', 20);
    expect(net.node('n1').status.role).to.equal('follower');
    expect(net.node('n1').status.term).to.equal(1);
  });

  it('Thesis §6.2: a leader that keeps hearing from a quorum stays leader', () => {
    const net = Network.of(3, { checkQuorum: true });
    net.campaign('n1');
    net.isolate('n3');
    net.tick('n1', 50);
    expect(net.node('n1').status.role).to.equal('leader');
  });

  it('Thesis §4.2.3: a follower that heard from its leader within the election timeout ignores vote requests', () => {
    const n = newNode('n2', THREE, { checkQuorum: true, preVote: false });
    deliver(n, msg('heartbeat', { from: 'n1', to: 'n2', term: 1 }));
    const out = deliver(n, msg('vote', { from: 'n3', to: 'n2', term: 2, lastIndex: 9, lastTerm: 1 }));
    expect(out).to.have.length(0);
    expect(n.status.term).to.equal(1);
    expect(n.status.leader).to.equal('n1');
  });

  it('Thesis §4.2.3: once the lease has run out, the follower votes again', () => {
    const n = newNode('n2', THREE, { checkQuorum: true, preVote: false, electionTicks: 10, random: () => 0.99 });
    deliver(n, msg('heartbeat', { from: 'n1', to: 'n2', term: 1 }));
    for (let i = 0; i < 10; i++) n.core.tick();
    const out = deliver(n, msg('vote', { from: 'n3', to: 'n2', term: 2, lastIndex: 9, lastTerm: 1 }));
    expect(out[0]).to.include({ type: 'voteResponse', reject: false });
  });
});

describe('Thesis §6.4: ReadIndex', () => {
  it('Thesis §6.4: the leader answers a read only after a heartbeat round confirms its leadership', () => {
    const net = Network.of(3);
    net.campaign('n1');
    const n1 = net.node('n1');
    net.isolate('n1');
    n1.core.readIndex('r1');
    const beats = ofType(n1.drain(), 'heartbeat');
    expect(beats.map((m) => m.context)).to.deep.equal(['r1', 'r1']);
    expect(n1.readStates).to.have.length(0);
    deliver(n1, msg('heartbeatResponse', { from: 'n2', term: 1, context: 'r1' }));
    expect(n1.readStates).to.deep.equal([{ index: 1, context: 'r1' }]);
  });

  it('Thesis §6.4: a new leader defers reads until it has committed an entry of its own term', () => {
    const n = newNode('n1', THREE, {}, { log: [1, 1], term: 1, commit: 1 });
    electLeader(n);
    n.core.readIndex('r1');
    expect(ofType(n.drain(), 'heartbeat')).to.have.length(0);
    const out = deliver(n, msg('appendResponse', { from: 'n2', term: 2, index: 3 }));
    expect(n.status.commit).to.equal(3);
    expect(ofType(out, 'heartbeat').map((m) => m.context)).to.include('r1');
    deliver(n, msg('heartbeatResponse', { from: 'n2', term: 2, context: 'r1' }));
    expect(n.readStates).to.deep.equal([{ index: 3, context: 'r1' }]);
  });

  it('Thesis §6.4: one heartbeat round confirms every read queued before it', () => {
    const net = Network.of(3);
    net.campaign('n1');
    const n1 = net.node('n1');
    net.isolate('n1');
    n1.core.readIndex('r1');
    n1.core.readIndex('r2');
    n1.drain();
    deliver(n1, msg('heartbeatResponse', { from: 'n3', term: 1, context: 'r2' }));
    expect(n1.readStates.map((r) => r.context)).to.deep.equal(['r1', 'r2']);
  });

  it('Thesis §6.4: a follower forwards a read to the leader and receives its read index', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.propose('n1', 'x');
    net.node('n2').core.readIndex('f1');
    net.send();
    expect(net.node('n2').readStates).to.deep.equal([{ index: 2, context: 'f1' }]);
  });

  it('Thesis §6.4: a single-server cluster answers reads at once', () => {
    const n = newNode('n1', ['n1']);
    n.core.campaign();
    n.drain();
    n.core.readIndex('r');
    n.drain();
    expect(n.readStates).to.deep.equal([{ index: 1, context: 'r' }]);
  });

  it('Thesis §6.4: a leader cut off from the majority never answers a read', () => {
    const net = Network.of(3, { checkQuorum: false });
    net.campaign('n1');
    net.isolate('n1');
    net.node('n1').core.readIndex('r');
    net.tick('n1', 30);
    expect(net.node('n1').readStates).to.have.length(0);
  });

  it('Thesis §6.4: a server that knows no leader refuses reads', () => {
    const n = newNode('n2', THREE);
    expect(codeOf(() => n.core.readIndex('r'))).to.equal('NOT_LEADER');
  });
});

describe('Thesis §3.10: leadership transfer', () => {
  it('Thesis §3.10: the leader sends TimeoutNow to an up-to-date target, which wins at once despite leases', () => {
    const net = Network.of(3, { preVote: true, checkQuorum: true });
    net.campaign('n1');
    net.node('n1').core.transferLeadership(nodeId('n2'));
    net.send();
    expect(net.delivered.some((m) => m.type === 'timeoutNow' && m.to === 'n2')).to.equal(true);
    expect(net.node('n2').status.role).to.equal('leader');
    expect(net.node('n2').status.term).to.equal(2);
    expect(net.node('n1').status.role).to.equal('follower');
  });

  it('Thesis §3.10: the leader first brings a lagging target up to date', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.cut('n1', 'n3');
    for (const d of ['a', 'b', 'c']) net.propose('n1', d);
    net.heal();
    net.node('n1').core.transferLeadership(nodeId('n3'));
    net.send();
    const n3 = net.node('n3');
    expect(n3.status.role).to.equal('leader');
    expect(n3.status.lastIndex).to.equal(5);
  });

  it('Thesis §3.10: the leader refuses proposals while a transfer is under way', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.cut('n1', 'n2');
    net.node('n1').core.transferLeadership(nodeId('n2'));
    net.send();
    expect(codeOf(() => net.node('n1').core.propose(bytes('x')))).to.equal('TRANSFERRING');
  });

  it('Thesis §3.10: a transfer that does not complete within an election timeout is abandoned', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.cut('n1', 'n2');
    net.node('n1').core.transferLeadership(nodeId('n2'));
    net.tick('n1', 10);
    const n1 = net.node('n1');
    expect(n1.status.role).to.equal('leader');
    expect(n1.status.leadTransferee).to.equal(null);
    expect(codeOf(() => n1.core.propose(bytes('x')))).to.equal(undefined);
  });

  it('Thesis §3.10: only a voter can be the target', () => {
    const n = newNode('n1', ['n1', 'n2'], {}, { learners: ['n3'] });
    electLeader(n);
    expect(codeOf(() => n.core.transferLeadership(nodeId('n3')))).to.equal('INVALID_TRANSFER');
    expect(codeOf(() => n.core.transferLeadership(nodeId('n9')))).to.equal('INVALID_TRANSFER');
  });

  it('Thesis §3.10: a follower cannot transfer leadership', () => {
    const n = newNode('n2', THREE);
    expect(codeOf(() => n.core.transferLeadership(nodeId('n3')))).to.equal('NOT_LEADER');
  });
});
