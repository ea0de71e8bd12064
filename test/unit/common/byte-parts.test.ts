import { expect } from 'chai';
import { joinParts, partsLength, sliceParts } from '../../../common/byte-parts.js';
import { BufferPool } from '../../../common/buffer-pool.js';

const parts = [Buffer.from('abc'), Buffer.from(''), Buffer.from('defg'), Buffer.from('h')];

describe('ByteParts: a byte range kept as the pieces it came in', () => {
  it('measures and joins the pieces in order, copying only when there is more than one', () => {
    expect(partsLength(parts)).to.equal(8);
    expect(joinParts(parts).toString()).to.equal('abcdefgh');
    const only = Buffer.from('xyz');
    expect(joinParts([only])).to.equal(only);
    expect(joinParts([]).length).to.equal(0);
  });

  it('slices across pieces as views of them, without empty pieces, clipped to what there is', () => {
    const text = (from: number, to: number): string[] => sliceParts(parts, from, to).map((p) => p.toString());
    expect(text(0, 8)).to.deep.equal(['abc', 'defg', 'h']);
    expect(text(1, 5)).to.deep.equal(['bc', 'de']);
    expect(text(3, 7)).to.deep.equal(['defg']);
    expect(text(4, 5)).to.deep.equal(['e']);
    expect(text(7, 20)).to.deep.equal(['h']);
    expect(text(8, 9)).to.deep.equal([]);
    expect(text(2, 2)).to.deep.equal([]);
    const view = sliceParts(parts, 3, 5)[0]!;
    view[0] = 'D'.charCodeAt(0);
    expect(parts[2]!.toString(), 'a view, not a copy').to.equal('Defg');
    parts[2]![0] = 'd'.charCodeAt(0);
  });
});

describe('BufferPool: buffers of one size, reused', () => {
  it('hands back what it was given, and allocates when empty', () => {
    const pool = new BufferPool(1024, 2);
    const a = pool.take();
    expect(a.length).to.equal(1024);
    pool.give(a);
    expect(pool.idle).to.equal(1);
    expect(pool.take()).to.equal(a);
    expect(pool.take()).to.not.equal(a);
  });

  it('keeps at most keepMax buffers, and only whole buffers of its size', () => {
    const pool = new BufferPool(1024, 2);
    const [a, b, c] = [pool.take(), pool.take(), pool.take()];
    pool.give(a);
    pool.give(b);
    pool.give(c);
    expect(pool.idle).to.equal(2);
    pool.give(Buffer.alloc(512));
    pool.give(Buffer.alloc(2048).subarray(1024));
    expect(pool.idle).to.equal(2);
  });

  it('refuses a buffer handed back twice (two owners would write over each other)', () => {
    const pool = new BufferPool(16, 4);
    const a = pool.take();
    pool.give(a);
    expect(() => pool.give(a)).to.throw(/twice/);
  });
});
