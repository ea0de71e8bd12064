import { expect } from 'chai';
import { deliver, electLeader, msg, Network, newNode, ofType, PLAIN } from './harness.js';

const THREE = ['n1', 'n2', 'n3'];

describe('Raft paper §5.1: terms', () => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    it(`§5.1: a ${role} that sees a higher term in any message adopts it and becomes a follower`, () => {
      const n = newNode('n1', THREE, PLAIN);
      if (role === 'candidate') n.core.campaign();
      if (role === 'leader') electLeader(n);
      n.drain();
      const term = n.status.term;
      deliver(n, msg('append', { from: 'n2', term: term + 3 }));
      expect(n.status.role).to.equal('follower');
      expect(n.status.term).to.equal(term + 3);
      expect(n.status.leader).to.equal('n2');
    });
  }

  it('§5.1: a server rejects a request with a stale term and answers with its current term', () => {
    const n = newNode('n1', THREE, PLAIN, { term: 5 });
    const appendOut = deliver(n, msg('append', { from: 'n2', term: 4, prevIndex: 0, entries: [] }));
    expect(appendOut).to.have.length(1);
    expect(appendOut[0]).to.include({ type: 'appendResponse', term: 5, to: 'n2' });
    const voteOut = deliver(n, msg('vote', { from: 'n3', term: 4 }));
    expect(voteOut[0]).to.include({ type: 'voteResponse', term: 5, reject: true });
    expect(n.status.term).to.equal(5);
    expect(n.status.vote).to.equal(null);
  });

  it('§5.1: a leader that learns of a higher term from a response steps down', () => {
    const n = newNode('n1', THREE, PLAIN);
    electLeader(n);
    deliver(n, msg('appendResponse', { from: 'n2', term: 9, index: 0 }));
    expect(n.status.role).to.equal('follower');
    expect(n.status.term).to.equal(9);
  });
});

describe('Raft paper §5.2: leader election', () => {
  it('§5.2: servers start up as followers', () => {
    const n = newNode('n1', THREE, PLAIN);
    expect(n.status.role).to.equal('follower');
    expect(n.status.term).to.equal(0);
  });

  it('§5.2: a follower that hears no heartbeat within its election timeout becomes a candidate', () => {
    const n = newNode('n1', THREE, PLAIN);
    for (let i = 0; i < 9; i++) n.core.tick();
    expect(n.status.role).to.equal('follower');
    n.core.tick();
    const out = n.drain();
    expect(n.status.role).to.equal('candidate');
    // It increments its term, votes for itself and asks every other server for its vote.
    expect(n.status.term).to.equal(1);
    expect(n.status.vote).to.equal('n1');
    const votes = ofType(out, 'vote');
    expect(votes.map((m) => m.to).sort()).to.deep.equal(['n2', 'n3']);
    expect(votes.every((m) => m.term === 1)).to.equal(true);
  });

  it('§5.2: a follower that keeps hearing heartbeats stays a follower', () => {
    const n = newNode('n1', THREE, PLAIN);
    for (let i = 0; i < 50; i++) {
      n.core.tick();
      deliver(n, msg('heartbeat', { from: 'n2', term: 1 }));
    }
    expect(n.status.role).to.equal('follower');
  });

  it('§5.2: a leader sends heartbeats to every follower each heartbeat interval', () => {
    const n = newNode('n1', THREE, { ...PLAIN, heartbeatTicks: 2 });
    electLeader(n);
    n.core.tick();
    expect(ofType(n.drain(), 'heartbeat')).to.have.length(0);
    n.core.tick();
    const beats = ofType(n.drain(), 'heartbeat');
    expect(beats.map((m) => m.to).sort()).to.deep.equal(['n2', 'n3']);
  });

  describe('§5.2: a candidate wins an election if it receives votes from a majority of the full cluster', () => {
    const cases: Array<[number, string[], string]> = [
      [1, [], 'leader'],
      [3, ['n2'], 'leader'],
      [3, [], 'candidate'],
      [5, ['n2', 'n3'], 'leader'],
      [5, ['n2'], 'candidate'],
    ];
    for (const [size, granted, role] of cases) {
      it(`${size} servers, ${granted.length} votes besides its own: ${role}`, () => {
        const voters = Array.from({ length: size }, (_, i) => `n${i + 1}`);
        const n = newNode('n1', voters, PLAIN);
        n.core.campaign();
        n.drain();
        for (const g of granted) deliver(n, msg('voteResponse', { from: g, term: 1 }));
        expect(n.status.role).to.equal(role);
      });
    }
  });

  it('§5.2: a candidate that a majority rejects returns to follower', () => {
    const n = newNode('n1', THREE, PLAIN);
    n.core.campaign();
    n.drain();
    deliver(n, msg('voteResponse', { from: 'n2', term: 1, reject: true }));
    deliver(n, msg('voteResponse', { from: 'n3', term: 1, reject: true }));
    expect(n.status.role).to.equal('follower');
  });

  it('§5.2: each server votes for at most one candidate in a term, first come first served', () => {
    const n = newNode('n1', THREE, PLAIN);
    const first = deliver(n, msg('vote', { from: 'n2', term: 1 }));
    expect(first[0]).to.include({ type: 'voteResponse', to: 'n2', reject: false });
    const second = deliver(n, msg('vote', { from: 'n3', term: 1 }));
    expect(second[0]).to.include({ type: 'voteResponse', to: 'n3', reject: true });
    // Asking again is answered the same way: the vote is n2's.
    const again = deliver(n, msg('vote', { from: 'n2', term: 1 }));
    expect(again[0]).to.include({ reject: false });
  });

  it('§5.2: the vote is persisted before the grant leaves', () => {
    const n = newNode('n1', THREE, PLAIN);
    n.core.step(msg('vote', { from: 'n2', term: 1 }));
    const rd = n.core.ready();
    expect(rd.messages).to.have.length(0);
    expect(rd.messagesAfterPersist.map((m) => m.type)).to.deep.equal(['voteResponse']);
    expect(rd.hardState).to.deep.include({ term: 1, vote: 'n2' });
    expect(rd.mustSync).to.equal(true);
  });

  it('§5.2: a candidate that hears AppendEntries from a leader of its term becomes a follower', () => {
    const n = newNode('n1', THREE, PLAIN);
    n.core.campaign();
    n.drain();
    deliver(n, msg('append', { from: 'n2', term: 1 }));
    expect(n.status.role).to.equal('follower');
    expect(n.status.leader).to.equal('n2');
    expect(n.status.term).to.equal(1);
  });

  it('§5.2: a candidate that neither wins nor loses starts a new election after another timeout', () => {
    const n = newNode('n1', THREE, PLAIN);
    n.core.campaign();
    n.drain();
    expect(n.status.term).to.equal(1);
    for (let i = 0; i < 10; i++) n.core.tick();
    const out = n.drain();
    expect(n.status.role).to.equal('candidate');
    expect(n.status.term).to.equal(2);
    expect(ofType(out, 'vote')).to.have.length(2);
  });

  it('§5.2: election timeouts are randomized in [T, 2T) from the injected random source', () => {
    const timeouts = [0, 0.5, 0.999].map((r) => {
      const n = newNode('n1', THREE, { ...PLAIN, random: () => r });
      let ticks = 0;
      while (n.status.role === 'follower') {
        n.core.tick();
        ticks++;
      }
      return ticks;
    });
    expect(timeouts).to.deep.equal([10, 15, 19]);
  });

  it('§5.2: randomized timeouts let one server win while the others are still followers', () => {
    const net = Network.of(3, PLAIN);
    // n1 times out first and wins before the others would time out.
    net.tick('n1', 10);
    expect(net.node('n1').status.role).to.equal('leader');
    expect(net.node('n2').status.role).to.equal('follower');
    expect(net.node('n3').status.leader).to.equal('n1');
  });
});

describe('Raft paper §5.4.1: election restriction', () => {
  // Voter's log: terms [1, 1, 2] (last index 3, last term 2).
  const cases: Array<[string, number, number, boolean]> = [
    ['a higher last term wins even with a shorter log', 2, 3, true],
    ['an equal last term and a longer log wins', 4, 2, true],
    ['an equal last term and an equal length wins', 3, 2, true],
    ['an equal last term and a shorter log loses', 2, 2, false],
    ['a lower last term loses even with a longer log', 9, 1, false],
  ];
  for (const [label, lastIndex, lastTerm, granted] of cases) {
    it(`§5.4.1: a voter denies its vote to a candidate whose log is less up-to-date: ${label}`, () => {
      const n = newNode('n1', THREE, PLAIN, { log: [1, 1, 2], term: 2 });
      const out = deliver(n, msg('vote', { from: 'n2', term: 3, lastIndex, lastTerm }));
      expect(out[0]).to.include({ type: 'voteResponse', reject: !granted });
    });
  }
});
