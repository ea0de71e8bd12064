import { expect } from 'chai';

import { LIMITS } from '../../../common/limits.js';
import { decodeEntry, encodeEntry, entries } from '../../../master/log-entry.js';
import { attrOf, chunkOf, expectError, Harness, ok, valueOf } from './harness.js';

const client = (seq: number, clientId = 'client-a') => ({ clientId, seq });

describe('master state machine: sessions (exactly-once)', () => {
  it('a duplicate returns the recorded outcome with duplicate:true and changes nothing', () => {
    const h = new Harness().init();
    const first = h.mkdir('/d', {}, client(1));
    expect(first.duplicate).to.equal(false);
    const again = h.unchanged(() => h.mkdir('/d', {}, client(1)));
    expect(again.duplicate).to.equal(true);
    expect(attrOf(again)).to.deep.equal(attrOf(first));
  });

  it("a duplicate of an attr result carries the inode's current attributes", () => {
    const h = new Harness().init();
    const inode = attrOf(h.create('/f', {}, client(1))).inode;
    ok(h.commit(inode, 500));
    const again = h.create('/f', {}, client(1));
    expect(again.duplicate).to.equal(true);
    expect(attrOf(again)).to.deep.equal(h.sm.stat('/f'));
  });

  it('a duplicate of a failure fails again with the same code and message, even where it would now succeed', () => {
    const h = new Harness().init();
    const first = h.mkdir('/x/y', {}, client(1));
    expectError(first, 'NOT_FOUND');
    h.dir('/x');
    const before = h.sm.snapshot();
    const again = h.mkdir('/x/y', {}, client(1));
    expectError(again, 'NOT_FOUND');
    expect(again.duplicate).to.equal(true);
    expect(!again.ok && !first.ok && again.error.message === first.error.message).to.equal(true);
    expect(h.sm.snapshot().equals(before)).to.equal(true);
  });

  it('a duplicate of AllocateChunk returns the same chunk; of BumpVersion and PurgeTrash the recorded values', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const chunk = chunkOf(h.allocate(inode, 4, client(1)));
    const again = h.unchanged(() => h.allocate(inode, 4, client(1)));
    expect(again.duplicate).to.equal(true);
    expect(chunkOf(again)).to.deep.equal(chunk);
    expect(valueOf(h.bump(chunk.handle, 2, client(2)))).to.deep.equal({ kind: 'version', handle: chunk.handle, version: 2 });
    ok(h.bump(chunk.handle, 5));
    expect(valueOf(h.bump(chunk.handle, 2, client(2)))).to.deep.equal({ kind: 'version', handle: chunk.handle, version: 2 });
    const purged = valueOf(h.purge(0, 0, client(3)));
    expect(valueOf(h.purge(0, 0, client(3)))).to.deep.equal(purged);
  });

  it('a duplicate whose inode has since been purged fails with NOT_FOUND, still marked duplicate', () => {
    const h = new Harness().init();
    ok(h.create('/f', {}, client(1)));
    ok(h.delete('/f'));
    ok(h.purge(h.time));
    const again = h.create('/f', {}, client(1));
    expectError(again, 'NOT_FOUND');
    expect(again.duplicate).to.equal(true);
  });

  it('a seq below every remembered one of a full window is INVALID_ARGUMENT ("request too old")', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    for (let seq = 1; seq <= LIMITS.sessionResultsPerClient + 10; seq++) ok(h.apply((t) => entries.noop(t, client(seq))));
    const tooOld = h.fails('INVALID_ARGUMENT', () => h.apply((t) => entries.noop(t, client(10))));
    expect(tooOld.ok ? '' : tooOld.error.message).to.match(/request too old to tell whether it was applied/);
    expect(h.apply((t) => entries.noop(t, client(11))).duplicate).to.equal(true);
    expect(h.apply((t) => entries.noop(t, client(LIMITS.sessionResultsPerClient + 11))).duplicate).to.equal(false);
  });

  it('seqs may arrive out of order within the window: each applies once', () => {
    const h = new Harness().init();
    ok(h.create('/a', {}, client(5)));
    ok(h.create('/b', {}, client(3)));
    expect(h.create('/b', {}, client(3)).duplicate).to.equal(true);
    expect(h.create('/a', {}, client(5)).duplicate).to.equal(true);
    expect(h.create('/c', {}, client(4)).duplicate).to.equal(false);
  });

  it('evicts the smallest seq when full, so a retry of any seq above it is still recognised', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    const max = LIMITS.sessionResultsPerClient;
    // Seq 1000 first, then 1..max: the window is full once 1..max-1 are in; seq max evicts 1, not 1000.
    ok(h.apply((t) => entries.noop(t, client(1000))));
    for (let seq = 1; seq <= max; seq++) ok(h.apply((t) => entries.noop(t, client(seq))));
    expect(h.apply((t) => entries.noop(t, client(1000))).duplicate).to.equal(true);
    expectError(h.apply((t) => entries.noop(t, client(1))), 'INVALID_ARGUMENT');
    expect(h.apply((t) => entries.noop(t, client(2))).duplicate).to.equal(true);
  });

  it('sessions are per client', () => {
    const h = new Harness().init();
    ok(h.create('/a', {}, client(1, 'one')));
    const other = h.create('/b', {}, client(1, 'two'));
    expect(other.duplicate).to.equal(false);
    expect(h.sm.stat('/b').inode).to.equal(attrOf(other).inode);
    expect(h.sm.counts().sessions).to.equal(2);
  });

  it('entries without a request id are never deduplicated', () => {
    const h = new Harness().init();
    ok(h.create('/a'));
    expectError(h.create('/a', { exclusive: true }), 'ALREADY_EXISTS');
    expect(h.create('/a').duplicate).to.equal(false);
    expect(h.sm.counts().sessions).to.equal(0);
  });

  it('failures before InitCluster are not recorded: the same seq applies once the cluster is up', () => {
    const h = new Harness();
    h.fails('UNAVAILABLE', () => h.mkdir('/d', {}, client(1)));
    h.init();
    const result = h.mkdir('/d', {}, client(1));
    expect(result.duplicate).to.equal(false);
    ok(result);
  });

  it('a forgotten session takes the client for a new one', () => {
    const h = new Harness().init();
    ok(h.create('/a', {}, client(1)));
    ok(h.purge(0, h.time));
    expect(h.sm.counts().sessions).to.equal(0);
    expect(h.create('/a', {}, client(1)).duplicate).to.equal(false);
  });

  it('a request id with an empty client id or a seq beyond 2^53 is INVALID_ARGUMENT and records nothing', () => {
    const h = new Harness().init();
    h.fails('INVALID_ARGUMENT', () => h.create('/a', {}, { clientId: '', seq: 1 }));
    h.fails('INVALID_ARGUMENT', () => h.create('/a', {}, { clientId: 'c', seq: '18446744073709551615' }));
    h.fails('INVALID_ARGUMENT', () => h.create('/a', {}, { clientId: 'c'.repeat(200), seq: 1 }));
  });

  it('a recorded failure changes only the session', () => {
    const h = new Harness().init();
    const before = decodeEntry(encodeEntry(entries.noop(0)));
    expect(before.requestId).to.equal(null);
    expectError(h.mkdir('/x/y', {}, client(1)), 'NOT_FOUND');
    expect(h.sm.counts()).to.include({ sessions: 1, directories: 1 });
  });
});
