import { expect } from 'chai';
import { crc32c } from '../../../common/crc32c.js';
import {
  BLOCK_BYTES,
  BlockChecksums,
  GROUP_BLOCKS,
  ZERO_BLOCK_CRC,
  blockCrc,
  blockSegments,
  changedBlocks,
  crc32cZeros,
  decodeGroups,
  needsOldBytes,
  type ByteChange,
} from '../../../chunkserver/block-checksums.js';
import { ChunkModel, patternBytes, rng } from './helpers.js';

const B = BLOCK_BYTES;

function write(prevLength: number, offset: number, length: number): ByteChange {
  return { prevLength, newLength: Math.max(prevLength, offset + length), dataOffset: offset, dataLength: length };
}

function readBacks(change: ByteChange): number[] {
  const span = changedBlocks(change);
  const out: number[] = [];
  for (let k = span.first; k < span.end; k++) if (needsOldBytes(k, blockSegments(k, change), change.prevLength)) out.push(k);
  return out;
}

describe('block checksums', () => {
  it('precomputes the CRC of a zero block and continues zero runs', () => {
    expect(ZERO_BLOCK_CRC).to.equal(crc32c(Buffer.alloc(B)));
    const head = Buffer.from('abc');
    expect(crc32cZeros(100, crc32c(head))).to.equal(crc32c(Buffer.concat([head, Buffer.alloc(100)])));
  });

  it('computes aligned full-block writes from the data alone', () => {
    expect(readBacks(write(4 * B, B, 2 * B))).to.deep.equal([]);
    expect(readBacks(write(0, 0, 16 * B))).to.deep.equal([]);
  });

  it('continues the last partial block on an append without reading it back', () => {
    const change = write(100, 100, 50);
    expect(readBacks(change)).to.deep.equal([]);
    const before = patternBytes(100, 1);
    const data = patternBytes(50, 2);
    const crc = blockCrc(0, blockSegments(0, change), crc32c(before), undefined, data, 100);
    expect(crc).to.equal(crc32c(Buffer.concat([before, data])));
  });

  it('reads back only the partially overwritten blocks at the edges', () => {
    expect(readBacks(write(10 * B, B + 5, 3 * B))).to.deep.equal([1, 4]);
    expect(readBacks(write(10 * B, 7, 10))).to.deep.equal([0]);
    // An overwrite that covers the tail block's old bytes and extends it needs nothing.
    expect(readBacks(write(B + 100, B, 200))).to.deep.equal([]);
  });

  it('changes only the blocks from the old end through the write on a sparse write', () => {
    expect(changedBlocks(write(100, 3 * B + 1, 10))).to.deep.equal({ first: 0, end: 4 });
    expect(changedBlocks(write(2 * B, 5 * B, 10))).to.deep.equal({ first: 2, end: 6 });
  });

  it('matches a byte model over random writes, pads and shrinks', () => {
    const seed = 20240611;
    const next = rng(seed);
    const model = new ChunkModel();
    const crcs = new BlockChecksums();
    for (let step = 0; step < 400; step++) {
      const prevLength = model.length;
      const kind = next(10);
      let change: ByteChange;
      let data: Buffer | undefined;
      if (kind < 7) {
        const offset = next(6 * B);
        data = patternBytes(1 + next(2 * B), step + 1);
        change = write(prevLength, offset, data.length);
      } else if (kind < 9) {
        change = { prevLength, newLength: prevLength + next(2 * B), dataOffset: prevLength, dataLength: 0 };
      } else {
        change = { prevLength, newLength: next(prevLength + 1), dataOffset: 0, dataLength: 0 };
      }
      const span = changedBlocks(change);
      const updates: Array<[number, number]> = [];
      for (let k = span.first; k < span.end; k++) {
        const segments = blockSegments(k, change);
        if (segments.length === 0) continue;
        const old = needsOldBytes(k, segments, prevLength) ? model.slice(k * B, Math.min((k + 1) * B, prevLength)) : undefined;
        updates.push([k, blockCrc(k, segments, crcs.get(k), old, data, change.dataOffset)]);
      }
      if (change.newLength < prevLength) {
        model.resize(change.newLength);
        crcs.truncate(Math.ceil(change.newLength / B));
      } else {
        model.resize(change.newLength);
        if (data !== undefined) model.write(change.dataOffset, data);
      }
      for (const [k, crc] of updates) crcs.set(k, crc);
      for (let k = 0; k < Math.ceil(model.length / B); k++) {
        expect(crcs.get(k), `seed ${seed} step ${step} block ${k}`).to.equal(crc32c(model.slice(k * B, (k + 1) * B)));
      }
      expect(crcs.blocks, `seed ${seed} step ${step}`).to.equal(Math.ceil(model.length / B));
    }
  });

  it('persists only the groups that changed', () => {
    const crcs = new BlockChecksums();
    for (let k = 0; k < 3 * GROUP_BLOCKS; k++) crcs.set(k, k);
    expect(crcs.takeDirty(3 * GROUP_BLOCKS).map(([g]) => g)).to.deep.equal([0, 1, 2]);
    crcs.set(GROUP_BLOCKS + 3, 7);
    const dirty = crcs.takeDirty(3 * GROUP_BLOCKS);
    expect(dirty.map(([g]) => g)).to.deep.equal([1]);
    expect(dirty[0]![1].length).to.equal(GROUP_BLOCKS * 4);
    expect(dirty[0]![1].readUInt32LE(3 * 4)).to.equal(7);
  });

  it('marks the new last group dirty on a shrink that changes no CRC', () => {
    const crcs = new BlockChecksums();
    for (let k = 0; k < 2 * GROUP_BLOCKS; k++) crcs.set(k, k + 1);
    crcs.takeDirty(2 * GROUP_BLOCKS);
    crcs.truncate(GROUP_BLOCKS + 2);
    const dirty = crcs.takeDirty(GROUP_BLOCKS + 2);
    expect(dirty.map(([g, v]) => [g, v.length])).to.deep.equal([[1, 8]]);
  });

  it('decodes groups back and reports missing ones', () => {
    const crcs = new BlockChecksums();
    for (let k = 0; k < GROUP_BLOCKS + 1; k++) crcs.set(k, 1000 + k);
    const groups = new Map(crcs.takeDirty(GROUP_BLOCKS + 1));
    const decoded = decodeGroups(groups, GROUP_BLOCKS + 1);
    expect(decoded).to.be.instanceOf(Uint32Array);
    expect(Array.from(decoded as Uint32Array)).to.deep.equal(Array.from({ length: GROUP_BLOCKS + 1 }, (_, k) => 1000 + k));
    groups.delete(1);
    expect(decodeGroups(groups, GROUP_BLOCKS + 1)).to.be.a('string');
  });
});
