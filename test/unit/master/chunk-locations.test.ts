import { expect } from 'chai';
import { chunkHandle, chunkVersion, serverId } from '../../../common/ids.js';
import { InventoryDigest } from '../../../common/inventory-digest.js';
import { ChunkLocations } from '../../../master/chunk-locations.js';

const a = serverId('a');
const b = serverId('b');
const h = (n: number) => chunkHandle(n);
const v = (n: number) => chunkVersion(n);

describe('chunk locations', () => {
  it('mirrors what each server reported, with a digest equal to the server\'s own', () => {
    const locations = new ChunkLocations();
    locations.replaceInventory(a, [{ handle: h(1), version: v(2) }, { handle: h(2), version: v(1) }]);
    locations.set(a, h(3), v(5));
    locations.set(a, h(1), v(3));
    locations.remove(a, h(2));
    const own = new InventoryDigest();
    own.toggle(1, 3);
    own.toggle(3, 5);
    expect(locations.digest(a)).to.equal(own.toString());
  });

  it('finds the replicas at a version and leaves out condemned ones', () => {
    const locations = new ChunkLocations();
    locations.set(a, h(1), v(2));
    locations.set(b, h(1), v(1));
    expect(locations.replicasAt(h(1), v(2))).to.deep.equal([a]);
    locations.condemn(a, h(1));
    expect(locations.replicasAt(h(1), v(2))).to.deep.equal([]);
    locations.set(a, h(1), v(3));
    expect(locations.isCondemned(a, h(1))).to.equal(false);
  });

  it('forgets a dead server and returns what it held', () => {
    const locations = new ChunkLocations();
    locations.set(a, h(1), v(1));
    locations.set(a, h(2), v(1));
    locations.set(b, h(1), v(1));
    expect(locations.dropServer(a).sort()).to.deep.equal([1, 2]);
    expect([...locations.holders(h(1)).keys()]).to.deep.equal([b]);
    expect(locations.holders(h(2)).size).to.equal(0);
    expect(locations.knowsServer(a)).to.equal(false);
  });
});

describe('inventory digest', () => {
  it('does not depend on order, and removing is adding again', () => {
    const x = new InventoryDigest();
    const y = new InventoryDigest();
    x.toggle(1, 1);
    x.toggle(2, 7);
    y.toggle(2, 7);
    y.toggle(1, 1);
    expect(x.toString()).to.equal(y.toString());
    y.toggle(3, 1);
    expect(x.toString()).to.not.equal(y.toString());
    y.toggle(3, 1);
    expect(x.toString()).to.equal(y.toString());
    x.toggle(1, 1);
    x.toggle(2, 7);
    expect(x.toString()).to.equal(new InventoryDigest().toString());
  });

  it('tells versions of one handle apart', () => {
    const x = new InventoryDigest();
    const y = new InventoryDigest();
    x.toggle(5, 1);
    y.toggle(5, 2);
    expect(x.toString()).to.not.equal(y.toString());
  });
});
