import { expect } from 'chai';
import { nodeId } from '../../../raft/core/types.js';
import { bytes, deliver, electLeader, ents, msg, Network, newNode, ofType, PLAIN, text, TestNode } from './harness.js';

const THREE = ['n1', 'n2', 'n3'];

/** A leader of term 1 whose followers have acknowledged its no-op (index 1): both are replicating. */
function leaderOfThree(): TestNode {
  const n = newNode('n1', THREE, PLAIN);
  electLeader(n);
  deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
  deliver(n, msg('appendResponse', { from: 'n3', term: 1, index: 1 }));
  n.applied.length = 0;
  return n;
}

describe('Raft paper §5.3: log replication', () => {
  it('§5.3: the leader appends a command to its log and sends AppendEntries to every follower', () => {
    const n = leaderOfThree();
    n.core.propose(bytes('x'));
    const out = ofType(n.drain(), 'append');
    expect(out.map((m) => m.to).sort()).to.deep.equal(['n2', 'n3']);
    for (const m of out) {
      expect(m.entries.map((e) => text(e as never))).to.include('x');
      expect(m.term).to.equal(1);
    }
    expect(n.status.lastIndex).to.equal(2);
  });

  it('§5.3: an entry is committed once the leader has replicated it on a majority', () => {
    const n = leaderOfThree();
    n.core.propose(bytes('x'));
    n.drain();
    expect(n.status.commit).to.equal(1);
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 2 }));
    expect(n.status.commit).to.equal(2);
    expect(n.applied.map(text)).to.deep.equal(['x']);
  });

  it('§5.3: committing an entry also commits all preceding entries in the leader log', () => {
    const n = leaderOfThree();
    for (const d of ['a', 'b', 'c']) n.core.propose(bytes(d));
    n.drain();
    deliver(n, msg('appendResponse', { from: 'n3', term: 1, index: 4 }));
    expect(n.status.commit).to.equal(4);
    expect(n.applied.map(text)).to.deep.equal(['a', 'b', 'c']);
  });

  it('§5.3: the leader sends its commit index; followers apply entries once they learn they are committed', () => {
    const f = newNode('n2', THREE, PLAIN);
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1, 1]), commit: 0 }));
    expect(f.applied).to.have.length(0);
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 2, prevTerm: 1, entries: [], commit: 1 }));
    expect(f.applied.map(text)).to.deep.equal(['e1']);
    deliver(f, msg('heartbeat', { from: 'n1', to: 'n2', term: 1, commit: 2 }));
    expect(f.applied.map(text)).to.deep.equal(['e1', 'e2']);
  });

  it('a commit sends nothing of its own: followers learn it with the next append or heartbeat', () => {
    const n = leaderOfThree();
    n.core.propose(bytes('x'));
    n.drain();
    const onCommit = deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 2 }));
    expect(n.status.commit).to.equal(2);
    expect(onCommit, 'messages sent because of the commit').to.deep.equal([]);
    n.core.propose(bytes('y'));
    const appends = ofType(n.drain(), 'append');
    expect(appends.map((m) => [m.to, m.commit])).to.deep.equal([
      ['n2', 2],
      ['n3', 2],
    ]);
    n.core.tick();
    const beats = ofType(n.drain(), 'heartbeat');
    // Never past what the follower is known to hold: n3 has acknowledged only the no-op.
    expect(beats.map((m) => [m.to, m.commit])).to.deep.equal([
      ['n2', 2],
      ['n3', 1],
    ]);
  });

  it('§5.3: a follower refuses AppendEntries whose previous entry it does not hold (consistency check)', () => {
    const f = newNode('n2', THREE, PLAIN, { log: [1, 1], term: 2 });
    const out = deliver(f, msg('append', { from: 'n1', to: 'n2', term: 2, prevIndex: 2, prevTerm: 2, entries: ents([2], 3) }));
    expect(out[0]).to.include({ type: 'appendResponse', reject: true, index: 2 });
    expect(f.status.lastIndex).to.equal(2);
    const gap = deliver(f, msg('append', { from: 'n1', to: 'n2', term: 2, prevIndex: 5, prevTerm: 2, entries: [] }));
    expect(gap[0]).to.include({ reject: true, index: 5, hintIndex: 2 });
  });

  it('§5.3: a follower deletes a conflicting entry and all that follow it, then appends the leader entries', () => {
    const f = newNode('n2', THREE, PLAIN, { log: [1, 1, 1, 1], term: 1 });
    const out = deliver(f, msg('append', { from: 'n1', to: 'n2', term: 2, prevIndex: 2, prevTerm: 1, entries: ents([2], 3) }));
    expect(out[0]).to.include({ reject: false, index: 3 });
    expect(f.status.lastIndex).to.equal(3);
    expect(f.storage.term(3)).to.equal(2);
  });

  it('§5.3: an entry already present with the same term is kept, as is everything after it', () => {
    const f = newNode('n2', THREE, PLAIN, { log: [1, 1, 1], term: 1 });
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1]) }));
    expect(f.status.lastIndex).to.equal(3);
  });

  it('§5.3: append responses leave only after the appended entries are persisted', () => {
    const f = newNode('n2', THREE, PLAIN);
    f.core.step(msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1]) }));
    const rd = f.core.ready();
    expect(rd.entries).to.have.length(1);
    expect(rd.mustSync).to.equal(true);
    expect(rd.messages).to.have.length(0);
    expect(rd.messagesAfterPersist.map((m) => m.type)).to.deep.equal(['appendResponse']);
  });

  it('§5.3: the leader counts its own copy only once it is persisted', () => {
    const n = newNode('n1', ['n1'], PLAIN);
    n.core.campaign();
    const rd = n.core.ready();
    expect(rd.entries).to.have.length(1);
    expect(rd.committedEntries).to.have.length(0);
    n.storage.saveSync(rd);
    n.core.advance();
    expect(n.status.commit).to.equal(1);
  });

  it('§5.3: the leader repairs inconsistent follower logs (Figure 7) until all logs match its own', () => {
    // Figure 7: the leader of term 8 and followers (a)-(f) with missing and extraneous entries.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    for (const [name, log] of Object.entries(followers)) {
      // Followers (c) and (d) would refuse their votes: an empty third server elects the leader.
      const voters = ['n1', name, 'n3'];
      const leader = newNode('n1', voters, PLAIN, { log: leaderLog, term: 7 });
      const follower = newNode(name, voters, PLAIN, { log, term: 7 });
      const net = new Network([leader, follower, newNode('n3', voters, PLAIN, { term: 7 })]);
      net.campaign('n1');
      expect(leader.status.role, name).to.equal('leader');
      net.propose('n1', 'new');
      net.heartbeat('n1');
      const lastIndex = leader.status.lastIndex;
      expect(follower.status.lastIndex, name).to.equal(lastIndex);
      for (let i = 1; i <= lastIndex; i++) expect(follower.storage.term(i), `${name} @${i}`).to.equal(leader.storage.term(i));
      expect(follower.status.commit, name).to.equal(lastIndex);
    }
  });

  it('§5.3: a rejection lets the leader skip a whole conflicting term instead of one entry per round trip', () => {
    const leader = newNode('n1', ['n1', 'n2'], PLAIN, { log: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6], term: 7 });
    const follower = newNode('n2', ['n1', 'n2'], PLAIN, { log: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], term: 7 });
    const net = new Network([leader, follower]);
    net.campaign('n1');
    const rejections = net.delivered.filter((m) => m.type === 'appendResponse' && m.reject);
    // One entry per round trip would need 8 rejections (indexes 11 down to 3).
    expect(rejections.length).to.be.at.most(3);
    expect(follower.storage.term(4)).to.equal(4);
  });
});

describe('Raft paper §5.4.2: committing entries from previous terms', () => {
  it('§5.4.2: a leader never commits an entry from a previous term by counting replicas (Figure 8)', () => {
    // n1 leads term 3 with an uncommitted entry of term 2 at index 2 that n2 also holds.
    const n = newNode('n1', ['n1', 'n2', 'n3', 'n4', 'n5'], PLAIN, { log: [1, 2], term: 2 });
    n.core.campaign();
    n.drain();
    for (const v of ['n2', 'n3', 'n4']) deliver(n, msg('voteResponse', { from: v, term: 3 }));
    expect(n.status.role).to.equal('leader');
    // The majority holds index 2 (term 2), but not the leader's no-op at index 3.
    deliver(n, msg('appendResponse', { from: 'n2', term: 3, index: 2 }));
    deliver(n, msg('appendResponse', { from: 'n3', term: 3, index: 2 }));
    expect(n.status.commit).to.equal(0);
    // Once an entry of its own term is on a majority, everything before it commits too.
    deliver(n, msg('appendResponse', { from: 'n2', term: 3, index: 3 }));
    deliver(n, msg('appendResponse', { from: 'n3', term: 3, index: 3 }));
    expect(n.status.commit).to.equal(3);
  });
});

describe('Raft paper §5.5: follower and candidate crashes', () => {
  it('§5.5: AppendEntries is idempotent: a repeated request changes nothing', () => {
    const f = newNode('n2', THREE, PLAIN);
    const m = msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1, 1]), commit: 1 });
    deliver(f, m);
    const before = { last: f.status.lastIndex, commit: f.status.commit, applied: f.applied.length };
    const again = deliver(f, m);
    expect(again[0]).to.include({ type: 'appendResponse', reject: false });
    expect({ last: f.status.lastIndex, commit: f.status.commit, applied: f.applied.length }).to.deep.equal(before);
  });

  it('§5.5: a stale AppendEntries that arrives late does not truncate newer entries', () => {
    const f = newNode('n2', THREE, PLAIN);
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1, 1, 1]) }));
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries: ents([1]) }));
    expect(f.status.lastIndex).to.equal(3);
  });

  it('§5.5: a restarted server keeps its term, vote and log, and re-applies committed entries', () => {
    const f = newNode('n2', THREE, PLAIN);
    deliver(f, msg('vote', { from: 'n1', to: 'n2', term: 3 }));
    deliver(f, msg('append', { from: 'n1', to: 'n2', term: 3, prevIndex: 0, prevTerm: 0, entries: ents([3, 3]), commit: 2 }));
    f.restart();
    expect(f.status.term).to.equal(3);
    expect(f.status.vote).to.equal('n1');
    expect(f.status.lastIndex).to.equal(2);
    f.applied.length = 0;
    f.drain();
    expect(f.applied.map(text)).to.deep.equal(['e1', 'e2']);
    // It still refuses a second candidate in term 3.
    expect(deliver(f, msg('vote', { from: 'n3', to: 'n2', term: 3, lastIndex: 9, lastTerm: 3 }))[0]).to.include({ reject: true });
  });
});

describe('Raft paper §8: client interaction', () => {
  it('§8: a new leader commits a blank no-op entry at the start of its term', () => {
    const net = Network.of(3, PLAIN);
    net.campaign('n1');
    net.heartbeat('n1');
    for (const n of net.nodes.values()) {
      expect(n.applied).to.have.length(1);
      expect(n.applied[0]!.data.byteLength).to.equal(0);
      expect(n.applied[0]!.term).to.equal(1);
    }
  });

  it('§8: a follower refuses proposals, naming the leader it knows', () => {
    const net = Network.of(3, PLAIN);
    net.campaign('n1');
    expect(() => net.node('n2').core.propose(bytes('x')))
      .to.throw()
      .with.property('leader', nodeId('n1'));
  });

  it('§8: a proposal returns the index and term it will be committed at, so the client can match the result', () => {
    const n = leaderOfThree();
    expect(n.core.propose(bytes('x'))).to.deep.equal({ index: 2, term: 1 });
  });
});
