import { expect } from 'chai';
import type { RaftConfig } from '../../../raft/core/config.js';
import { isRaftError } from '../../../raft/core/errors.js';
import { nodeId } from '../../../raft/core/types.js';
import type { Message } from '../../../raft/core/messages.js';
import { deliver, electLeader, msg, newNode, ofType, TestNode, type Loose } from './harness.js';

function leaderOfTwo(config: Partial<RaftConfig> = {}): TestNode {
  const n = newNode('n1', ['n1', 'n2'], { preVote: false, ...config });
  electLeader(n);
  return n;
}

const payload = (size: number): Uint8Array => new Uint8Array(size).fill(7);

function appendsTo(messages: ReadonlyArray<Loose<Message>>, to: string) {
  return ofType(messages, 'append').filter((m) => m.to === to);
}

describe('flow control: probe, replicate and snapshot states', () => {
  it('probe state: the leader sends one append at a time until the follower answers', () => {
    const n = leaderOfTwo();
    expect(n.status.progress?.get('n2')?.state).to.equal('probe');
    n.core.propose(payload(1));
    n.core.propose(payload(1));
    expect(appendsTo(n.drain(), 'n2')).to.have.length(0);
    const out = deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
    expect(n.status.progress?.get('n2')?.state).to.equal('replicate');
    expect(appendsTo(out, 'n2').flatMap((m) => m.entries.map((e) => e.index))).to.deep.equal([2, 3]);
  });

  it('replicate state: appends are pipelined up to maxInflightMessages, and each ack frees a slot', () => {
    const n = leaderOfTwo({ maxInflightMessages: 2, maxMessageBytes: 1 });
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
    for (let i = 0; i < 5; i++) n.core.propose(payload(1));
    const first = appendsTo(n.drain(), 'n2');
    expect(first.map((m) => m.entries[0]!.index)).to.deep.equal([2, 3]);
    expect(n.status.progress?.get('n2')?.inflight).to.equal(2);
    const next = appendsTo(deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 2 })), 'n2');
    expect(next.map((m) => m.entries[0]!.index)).to.deep.equal([4]);
  });

  it('batching: an append carries entries up to maxMessageBytes, and at least one entry', () => {
    // Each entry costs 20 bytes of data plus 24 of overhead: two fit in 100 bytes, three do not.
    const n = leaderOfTwo({ maxMessageBytes: 100 });
    for (let i = 0; i < 4; i++) n.core.propose(payload(20));
    n.core.propose(payload(500));
    n.drain();
    const out = appendsTo(deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 })), 'n2');
    expect(out.map((m) => m.entries.length)).to.deep.equal([2, 2, 1]);
    expect(out[2]!.entries[0]!.data.byteLength).to.equal(500);
  });

  it('a rejection sends a replicating follower back to probing from its match index', () => {
    const n = leaderOfTwo();
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
    n.core.propose(payload(1));
    n.core.propose(payload(1));
    n.drain();
    const out = appendsTo(deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 3, reject: true, hintIndex: 1, hintTerm: 1 })), 'n2');
    expect(n.status.progress?.get('n2')?.state).to.equal('probe');
    expect(out.map((m) => m.prevIndex)).to.deep.equal([1]);
  });

  it('a full pipeline whose appends were all lost recovers on the next heartbeat response', () => {
    const n = leaderOfTwo({ maxInflightMessages: 2, maxMessageBytes: 1 });
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
    for (let i = 0; i < 4; i++) n.core.propose(payload(1));
    n.drain();
    // Both appends in flight are lost; the follower is alive and answers a heartbeat.
    const retry = appendsTo(deliver(n, msg('heartbeatResponse', { from: 'n2', term: 1 })), 'n2');
    expect(retry).to.have.length(1);
    // The follower lacks its predecessor and rejects; the leader probes from match+1.
    const probe = appendsTo(deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: retry[0]!.prevIndex, reject: true, hintIndex: 1, hintTerm: 1 })), 'n2');
    expect(probe.map((m) => m.prevIndex)).to.deep.equal([1]);
  });

  it('reportUnreachable sends a replicating follower back to probing', () => {
    const n = leaderOfTwo();
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 1 }));
    n.core.reportUnreachable(nodeId('n2'));
    expect(n.status.progress?.get('n2')?.state).to.equal('probe');
  });

  it('the leader refuses proposals once maxUncommittedBytes of them are uncommitted', () => {
    const n = leaderOfTwo({ maxUncommittedBytes: 100 });
    n.core.propose(payload(60));
    n.core.propose(payload(40));
    let code: string | undefined;
    try {
      n.core.propose(payload(1));
    } catch (err) {
      if (isRaftError(err)) code = err.code;
    }
    expect(code).to.equal('OVERLOADED');
    n.drain();
    // Once they commit and are applied, there is room again.
    deliver(n, msg('appendResponse', { from: 'n2', term: 1, index: 3 }));
    expect(() => n.core.propose(payload(1))).to.not.throw();
  });
});
