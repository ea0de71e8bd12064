import { expect } from 'chai';
import { chunkHandle, chunkVersion, serverId } from '../../../common/ids.js';
import { LeaseTable } from '../../../master/lease-table.js';

const h = chunkHandle(7);
const v = chunkVersion(3);
const p = serverId('p');

describe('lease table', () => {
  it('grants nothing until the longest possible earlier lease has run out', () => {
    const leases = new LeaseTable(1_000, 10_000);
    expect(leases.acceptingGrants(10_999)).to.equal(false);
    expect(leases.acceptingGrants(11_000)).to.equal(true);
    leases.fence(20_000, 10_000);
    expect(leases.acceptingGrants(29_999)).to.equal(false);
  });

  it('holds a lease until it expires, then forgets it', () => {
    const leases = new LeaseTable(0, 0);
    leases.record({ handle: h, version: v, primary: p, secondaries: [], expiresAtMs: 100 });
    expect(leases.current(h, 99)?.primary).to.equal('p');
    expect(leases.current(h, 100)).to.equal(undefined);
    expect(leases.size()).to.equal(0);
  });

  it('extends only for the primary that holds it, at its version, and not when told to let it lapse', () => {
    const leases = new LeaseTable(0, 0);
    leases.record({ handle: h, version: v, primary: p, secondaries: [], expiresAtMs: 100 });
    expect(leases.extend(h, serverId('other'), v, 50, 100)).to.equal(false);
    expect(leases.extend(h, p, chunkVersion(2), 50, 100)).to.equal(false);
    expect(leases.extend(h, p, v, 50, 100)).to.equal(true);
    expect(leases.current(h, 149)).to.not.equal(undefined);
    leases.stopExtending(h);
    expect(leases.extend(h, p, v, 60, 100)).to.equal(false);
  });

  it('lets a primary release its lease at its version only', () => {
    const leases = new LeaseTable(0, 0);
    leases.record({ handle: h, version: v, primary: p, secondaries: [], expiresAtMs: 100 });
    leases.release(h, chunkVersion(2));
    expect(leases.isLeased(h, 1)).to.equal(true);
    leases.release(h, v);
    expect(leases.isLeased(h, 1)).to.equal(false);
  });

  // A copy taken while a grant is in flight can be at the version the grant
  // confirms, yet miss every write of the lease: copies and trims ask isLeased.
  it('counts a chunk whose lease is being granted as leased, from the start of the grant to its end', () => {
    const leases = new LeaseTable(0, 0);
    leases.beginGrant(h);
    expect(leases.isLeased(h, 1)).to.equal(true);
    expect(leases.isGranting(h)).to.equal(true);
    expect(leases.current(h, 1), 'no lease to hand out yet').to.equal(undefined);
    leases.record({ handle: h, version: v, primary: p, secondaries: [], expiresAtMs: 100 });
    leases.endGrant(h);
    expect(leases.isGranting(h)).to.equal(false);
    expect(leases.isLeased(h, 99)).to.equal(true);
    expect(leases.isLeased(h, 100)).to.equal(false);
    leases.beginGrant(h);
    leases.endGrant(h);
    expect(leases.isLeased(h, 1), 'a grant that failed leaves nothing behind').to.equal(false);
  });
});
