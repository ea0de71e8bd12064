import { expect } from 'chai';
import { decodeConfChange, encodeConfChange, type ConfChange } from '../../../raft/core/conf-change.js';
import { isRaftError } from '../../../raft/core/errors.js';
import { nodeId } from '../../../raft/core/types.js';
import { MemoryStorage } from '../../../raft/storage/memory-storage.js';
import { bytes, electLeader, Network, newNode, TestNode } from './harness.js';

const change = (type: ConfChange['type'], id: string): ConfChange => ({ type, nodeId: nodeId(id), context: `addr-${id}` });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isRaftError(err)) return err.code;
    throw err;
  }
  return undefined;
}

/** A node that joins with an empty log and no membership: it learns everything from the leader. */
function joiner(id: string): TestNode {
  return new TestNode(nodeId(id), new MemoryStorage(), {});
}

describe('Raft paper §6 / thesis §4: membership changes', () => {
  it('§6: conf changes round-trip through entry data', () => {
    const c = change('addLearner', 'n4');
    expect(decodeConfChange(encodeConfChange(c))).to.deep.equal(c);
  });

  it('§6: a learner receives the log but neither votes nor counts toward commitment', () => {
    const voters = ['n1', 'n2'];
    const setup = { learners: ['n3'] };
    const net = new Network([newNode('n1', voters, {}, setup), newNode('n2', voters, {}, setup), newNode('n3', voters, {}, setup)]);
    net.campaign('n1');
    net.propose('n1', 'a');
    net.heartbeat('n1');
    expect(net.node('n3').applied.map((e) => e.data.byteLength)).to.deep.equal([0, 1]);
    net.cut('n1', 'n2');
    net.propose('n1', 'b');
    expect(net.node('n3').status.lastIndex).to.equal(3);
    expect(net.node('n1').status.commit).to.equal(2);
    // A learner never campaigns.
    net.tick('n3', 50);
    expect(net.node('n3').status.role).to.equal('follower');
    expect(net.node('n3').status.term).to.equal(1);
  });

  it('thesis §4.2.1: a new server joins as a learner, catches up, and is then promoted to voter', () => {
    const net = Network.bootstrapped(3);
    net.campaign('n1');
    for (const d of ['a', 'b', 'c']) net.propose('n1', d);
    const n4 = joiner('n4');
    net.nodes.set(n4.id, n4);
    net.node('n1').core.proposeConfChange(change('addLearner', 'n4'));
    net.send();
    expect(net.node('n1').status.confState.learners).to.deep.equal(['n4']);
    expect(n4.status.lastIndex).to.equal(net.node('n1').status.lastIndex);
    expect(n4.status.confState.learners).to.deep.equal(['n4']);
    net.node('n1').core.proposeConfChange(change('addVoter', 'n4'));
    net.send();
    net.heartbeat('n1');
    for (const n of net.nodes.values()) expect(n.status.confState.voters, n.id).to.deep.equal(['n1', 'n2', 'n3', 'n4']);
  });

  it('thesis §4.1: a membership change takes effect when applied, not when appended', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.isolate('n1');
    net.node('n1').core.proposeConfChange(change('removeNode', 'n3'));
    net.send();
    expect(net.node('n1').status.lastIndex).to.equal(2);
    expect(net.node('n1').status.confState.voters).to.deep.equal(['n1', 'n2', 'n3']);
    net.heal();
    net.tick('n1');
    expect(net.node('n1').status.confState.voters).to.deep.equal(['n1', 'n2']);
  });

  it('thesis §4.1: only one change at a time: another is refused until the first is applied', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.cut('n1', 'n2');
    net.cut('n1', 'n3');
    const n1 = net.node('n1');
    n1.core.proposeConfChange(change('addLearner', 'n4'));
    expect(codeOf(() => n1.core.proposeConfChange(change('addLearner', 'n5')))).to.equal('CONF_CHANGE_PENDING');
    net.heal();
    net.tick('n1');
    expect(n1.status.confState.learners).to.deep.equal(['n4']);
    expect(codeOf(() => n1.core.proposeConfChange(change('addLearner', 'n5')))).to.equal(undefined);
  });

  it('thesis §4.1: a new leader proposes no change until an entry of its own term is applied', () => {
    const n = newNode('n1', ['n1', 'n2', 'n3']);
    electLeader(n);
    expect(codeOf(() => n.core.proposeConfChange(change('addLearner', 'n4')))).to.equal('CONF_CHANGE_PENDING');
  });

  it('thesis §4.1: impossible changes are refused when proposed', () => {
    const net = Network.of(3);
    net.campaign('n1');
    const n1 = net.node('n1');
    expect(codeOf(() => n1.core.proposeConfChange(change('addVoter', 'n2')))).to.equal('INVALID_CONF_CHANGE');
    expect(codeOf(() => n1.core.proposeConfChange(change('removeNode', 'n9')))).to.equal('INVALID_CONF_CHANGE');
    expect(codeOf(() => n1.core.proposeConfChange(change('addLearner', 'n3')))).to.equal('INVALID_CONF_CHANGE');
    const solo = newNode('s1', ['s1']);
    solo.core.campaign();
    solo.drain();
    expect(codeOf(() => solo.core.proposeConfChange(change('removeNode', 's1')))).to.equal('INVALID_CONF_CHANGE');
  });

  it('thesis §4.1: removing a voter shrinks the quorum: the remaining majority commits', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.node('n1').core.proposeConfChange(change('removeNode', 'n3'));
    net.send();
    net.nodes.delete(nodeId('n3'));
    net.cut('n1', 'n2');
    // Alone, n1 is no quorum of {n1, n2}.
    net.propose('n1', 'x');
    expect(net.node('n1').status.commit).to.equal(2);
    net.heal();
    net.tick('n1');
    expect(net.node('n1').status.commit).to.equal(3);
  });

  it('thesis §4.2.2: a leader removed from the membership steps down once the change is applied', () => {
    const net = Network.of(3);
    net.campaign('n1');
    net.node('n1').core.proposeConfChange(change('removeNode', 'n1'));
    net.send();
    const n1 = net.node('n1');
    expect(n1.status.role).to.equal('follower');
    expect(n1.status.confState.voters).to.deep.equal(['n2', 'n3']);
    net.nodes.delete(nodeId('n1'));
    for (let i = 0; i < 30; i++) {
      net.tick('n2');
      net.tick('n3');
    }
    const leader = net.leader();
    expect(leader?.id).to.be.oneOf(['n2', 'n3']);
    net.propose(leader!.id, 'after');
    expect(leader!.status.commit).to.equal(leader!.status.lastIndex);
  });

  it('thesis §4.2.3: a removed server that times out cannot disrupt the cluster', () => {
    const net = Network.of(3, { preVote: true, checkQuorum: true });
    net.campaign('n1');
    net.node('n1').core.proposeConfChange(change('removeNode', 'n3'));
    net.send();
    // n3 never applied its removal (the commit did not reach it) and keeps campaigning.
    const n3 = newNode('n3', ['n1', 'n2', 'n3'], { preVote: false, checkQuorum: true }, { term: 1 });
    net.nodes.set(n3.id, n3);
    for (let i = 0; i < 40; i++) {
      net.tick('n1');
      net.tick('n2');
      net.tick('n3');
    }
    expect(net.node('n1').status.role).to.equal('leader');
    expect(net.node('n1').status.term).to.equal(1);
  });

  it('thesis §4.1: a server does not campaign while committed membership changes are unapplied', () => {
    const n = newNode('n1', ['n1', 'n2', 'n3']);
    n.storage.append([{ term: 1, index: 1, type: 'confChange', data: encodeConfChange(change('removeNode', 'n3')) }]);
    n.storage.setHardState({ term: 1, vote: null, commit: 1 });
    n.restart();
    n.core.campaign();
    expect(n.status.role).to.equal('follower');
    n.drain();
    expect(n.status.confState.voters).to.deep.equal(['n1', 'n2']);
    n.core.campaign();
    expect(n.status.role).to.not.equal('follower');
  });

  it('§6: the leader accepts proposals again after the change and replicates them to new members', () => {
    const net = Network.bootstrapped(3);
    net.campaign('n1');
    const n4 = joiner('n4');
    net.nodes.set(n4.id, n4);
    net.node('n1').core.proposeConfChange(change('addLearner', 'n4'));
    net.send();
    net.node('n1').core.propose(bytes('later'));
    net.send();
    net.heartbeat('n1');
    expect(n4.applied.some((e) => new TextDecoder().decode(e.data) === 'later')).to.equal(true);
  });
});
