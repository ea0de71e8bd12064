import { expect } from 'chai';
import type { Snapshot } from '../../../raft/core/types.js';
import { nodeId } from '../../../raft/core/types.js';
import { MemoryStorage } from '../../../raft/storage/memory-storage.js';
import { bytes, deliver, electLeader, ents, ids, msg, Network, newNode, ofType, PLAIN, TestNode } from './harness.js';

/** A node whose log [1..10] (term 1) is compacted up to `compactedTo` behind a snapshot there. */
function compactedNode(id: string, voters: string[], compactedTo: number): TestNode {
  const storage = new MemoryStorage({ voters: ids(...voters), learners: [] });
  storage.append(ents(new Array<number>(10).fill(1)));
  storage.setHardState({ term: 1, vote: null, commit: 10 });
  storage.createSnapshotSync(compactedTo, { voters: ids(...voters), learners: [] }, bytes(`state@${compactedTo}`));
  storage.compactSync(compactedTo);
  return new TestNode(nodeId(id), storage, PLAIN);
}

function snapshotAt(index: number, term: number, voters = ['n1', 'n2', 'n3']): Snapshot {
  return { metadata: { index, term, confState: { voters: ids(...voters), learners: [] } }, data: bytes(`state@${index}`) };
}

describe('Raft paper §7: log compaction and InstallSnapshot', () => {
  it('§7: the leader sends InstallSnapshot to a follower that needs entries it has compacted', () => {
    const leader = compactedNode('n1', ['n1', 'n2'], 8);
    const follower = newNode('n2', ['n1', 'n2'], PLAIN);
    const net = new Network([leader, follower]);
    net.campaign('n1');
    const snaps = net.delivered.filter((m) => m.type === 'snapshot');
    expect(snaps).to.have.length(1);
    expect(follower.readies.some((rd) => rd.snapshot?.metadata.index === 8)).to.equal(true);
    expect(follower.status.lastIndex).to.equal(leader.status.lastIndex);
    net.heartbeat('n1');
    expect(follower.status.commit).to.equal(leader.status.commit);
    expect(follower.storage.snapshot().data).to.deep.equal(bytes('state@8'));
    // After the snapshot, replication continues with ordinary entries.
    net.propose('n1', 'after');
    net.heartbeat('n1');
    expect(follower.applied.map((e) => new TextDecoder().decode(e.data))).to.include('after');
  });

  it('§7: a follower that installs a snapshot ahead of its log discards its entire log', () => {
    const f = newNode('n2', ['n1', 'n2', 'n3'], PLAIN, { log: [1, 1, 1], term: 1 });
    f.core.step(msg('snapshot', { from: 'n1', to: 'n2', term: 2, snapshot: snapshotAt(5, 2) }));
    const rd = f.core.ready();
    expect(rd.snapshot?.metadata.index).to.equal(5);
    expect(rd.hardState?.commit).to.equal(5);
    expect(rd.committedEntries).to.have.length(0);
    // The acknowledgement promises the snapshot is held: it waits for persistence.
    expect(rd.messagesAfterPersist.map((m) => [m.type, (m as { index: number }).index])).to.deep.equal([['appendResponse', 5]]);
    f.storage.saveSync(rd);
    f.core.advance();
    expect(f.status.applied).to.equal(5);
    expect(f.status.lastIndex).to.equal(5);
    expect(f.storage.firstIndex()).to.equal(6);
  });

  it("§7: a snapshot whose last entry the follower already holds only advances the commit; the log is kept", () => {
    const f = newNode('n2', ['n1', 'n2', 'n3'], PLAIN, { log: [1, 1, 1, 1, 1], term: 1 });
    const out = deliver(f, msg('snapshot', { from: 'n1', to: 'n2', term: 1, snapshot: snapshotAt(3, 1) }));
    expect(f.readies.some((rd) => rd.snapshot !== null)).to.equal(false);
    expect(f.status.commit).to.equal(3);
    expect(f.status.lastIndex).to.equal(5);
    expect(out[0]).to.include({ type: 'appendResponse', index: 3 });
  });

  it('§7: a snapshot at or below the commit index is ignored', () => {
    const f = newNode('n2', ['n1', 'n2', 'n3'], PLAIN, { log: [1, 1, 1, 1], term: 1, commit: 4 });
    const out = deliver(f, msg('snapshot', { from: 'n1', to: 'n2', term: 1, snapshot: snapshotAt(3, 1) }));
    expect(f.status.lastIndex).to.equal(4);
    expect(out[0]).to.include({ type: 'appendResponse', index: 4 });
  });

  it('§7: the membership comes from the snapshot', () => {
    const f = newNode('n2', ['n1', 'n2', 'n3'], PLAIN);
    deliver(f, msg('snapshot', { from: 'n1', to: 'n2', term: 1, snapshot: snapshotAt(4, 1, ['n1', 'n2', 'n3', 'n4', 'n5']) }));
    expect(f.status.confState.voters).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
  });

  it('§7: while a snapshot is in flight the leader sends nothing else to that follower', () => {
    const leader = compactedNode('n1', ['n1', 'n2'], 8);
    electLeader(leader);
    deliver(leader, msg('appendResponse', { from: 'n2', term: 2, index: 10, reject: true, hintIndex: 0, hintTerm: 0 }));
    expect(leader.status.progress?.get('n2')?.state).to.equal('snapshot');
    leader.core.propose(bytes('x'));
    expect(ofType(leader.drain(), 'append')).to.have.length(0);
    // A delivered snapshot puts the follower back to probing after the snapshot's index.
    leader.core.reportSnapshot(nodeId('n2'), true);
    expect(leader.status.progress?.get('n2')).to.include({ state: 'probe', next: 9 });
  });

  it('§7: a snapshot that failed to arrive is sent again after the next heartbeat response', () => {
    const leader = compactedNode('n1', ['n1', 'n2'], 8);
    electLeader(leader);
    deliver(leader, msg('appendResponse', { from: 'n2', term: 2, index: 10, reject: true, hintIndex: 0, hintTerm: 0 }));
    leader.core.reportSnapshot(nodeId('n2'), false);
    expect(leader.status.progress?.get('n2')?.state).to.equal('probe');
    const out = deliver(leader, msg('heartbeatResponse', { from: 'n2', term: 2 }));
    expect(ofType(out, 'snapshot')).to.have.length(1);
  });
});
