import { expect } from 'chai';

import type { ChunkHandle, ChunkVersion, InodeId } from '../../../common/ids.js';
import { column, fitting, resized } from '../../../master/ascending-rows.js';
import { ChunkLists } from '../../../master/chunk-lists.js';
import { ChunkTable } from '../../../master/chunk-table.js';

/** A deterministic generator, so that a failing sequence can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('chunk lists packed in one column', () => {
  it('agree with plain arrays through random sets, replacements, releases, row moves and compactions', () => {
    const next = random(7);
    const rows = 300;
    const lists = new ChunkLists(rows);
    const model: number[][] = Array.from({ length: rows }, () => []);
    let handle = 1;
    for (let step = 0; step < 200_000; step++) {
      const row = Math.floor(next() * rows);
      const pick = next();
      if (pick < 0.7) {
        // Mostly appends, some overwrites and some jumps past the end (holes).
        const length = model[row]!.length;
        const index = pick < 0.5 ? length : pick < 0.6 ? Math.floor(next() * (length + 1)) : length + 1 + Math.floor(next() * 5);
        lists.set(row, index, handle);
        while (model[row]!.length < index) model[row]!.push(0);
        model[row]![index] = handle++;
      } else if (pick < 0.8) {
        // A truncation: a prefix, trailing holes trimmed, as the namespace does.
        const kept = model[row]!.slice(0, Math.floor(next() * (model[row]!.length + 1)));
        while (kept.length > 0 && kept[kept.length - 1] === 0) kept.pop();
        lists.replace(row, kept);
        model[row] = kept;
      } else if (pick < 0.85) {
        lists.release(row);
        model[row] = [];
      } else if (pick < 0.9) {
        // A row moves to an empty one, as when the inode table squeezes out removed rows.
        const to = Math.floor(next() * rows);
        if (to !== row && lists.length(to) === 0) {
          lists.release(to);
          lists.move(row, to);
          model[to] = model[row]!;
          model[row] = [];
        }
      } else {
        lists.compact(rows);
      }
      if (step % 5000 === 0) lists.checkStorage(rows, () => true);
    }
    lists.checkStorage(rows, () => true);
    for (let row = 0; row < rows; row++) {
      expect(lists.list(row), `row ${row}`).to.deep.equal(model[row]);
      expect(lists.length(row)).to.equal(model[row]!.length);
      expect(lists.at(row, model[row]!.length)).to.equal(0);
    }
  });

  it('give back abandoned slots: a compaction leaves the column the size of what the lists hold', () => {
    const rows = 1000;
    const lists = new ChunkLists(rows);
    // Interleaved growth: every list but the last moves at each step, abandoning its slots.
    let handle = 1;
    for (let index = 0; index < 200; index++) for (let row = 0; row < rows; row++) lists.set(row, index, handle++);
    lists.compact(rows);
    lists.checkStorage(rows, () => true);
    expect(lists.slotsUsed).to.equal(rows * 200);
    expect(lists.list(0)).to.have.length(200);
    expect(lists.at(999, 199)).to.equal(handle - 1);
  });

  it('are checked against the rows that may have one', () => {
    const lists = new ChunkLists(4);
    lists.set(0, 0, 1);
    lists.set(1, 0, 2);
    lists.move(1, 2);
    expect(() => lists.checkStorage(4, (row) => row !== 2)).to.throw(/not a file/);
  });
});

describe('columns over resizable buffers', () => {
  it('grow and shrink in place, keep their first rows and read zeros past them', () => {
    const ids = column(Float64Array, 1024);
    ids.fill(7);
    const grown = resized(ids, 4096);
    expect(grown).to.equal(ids);
    expect(grown.length).to.equal(4096);
    expect(grown[1023]).to.equal(7);
    expect(grown[1024]).to.equal(0);
    const shrunk = resized(grown, 10);
    expect(shrunk.length).to.equal(10);
    const regrown = resized(shrunk, 2048);
    expect(regrown[9]).to.equal(7);
    expect(regrown[10]).to.equal(0);
  });

  it('widen when a value outgrows them, keeping their rows', () => {
    const counts = column(Uint8Array, 8);
    counts[3] = 200;
    expect(fitting(counts, 255)).to.equal(counts);
    const wider = fitting(counts, 256);
    expect(wider).to.be.instanceOf(Uint32Array);
    expect([wider.length, wider[3]]).to.deep.equal([8, 200]);
    expect(fitting(wider, 2 ** 40)).to.be.instanceOf(Float64Array);
    expect(fitting(wider, -1)).to.be.instanceOf(Float64Array);
    expect(fitting(wider, 0.5)).to.be.instanceOf(Float64Array);
  });

  it('of the chunk table hold versions, owners and reference counts past 32 and 8 bits', () => {
    const table = new ChunkTable();
    const handle = 5 as ChunkHandle;
    table.add({ handle, version: 1 as ChunkVersion, confirmedVersion: 1 as ChunkVersion, refCount: 300, inode: (2 ** 33) as InodeId, index: 7 });
    table.add({ handle: 6 as ChunkHandle, version: 2 as ChunkVersion, confirmedVersion: 0 as ChunkVersion, refCount: 1, inode: 9 as InodeId, index: 0 });
    table.setVersion(handle, (2 ** 40) as ChunkVersion);
    table.setConfirmedVersion(handle, (2 ** 40 - 1) as ChunkVersion);
    expect(table.get(handle)).to.deep.equal({ version: 2 ** 40, confirmedVersion: 2 ** 40 - 1, refCount: 300, inode: 2 ** 33, index: 7 });
    expect(table.get(6 as ChunkHandle)).to.deep.equal({ version: 2, confirmedVersion: 0, refCount: 1, inode: 9, index: 0 });
    table.checkStorage();
  });

  it('move to a larger buffer past their reservation, with their rows', () => {
    const small = column(Uint8Array, 16);
    small.fill(3);
    const big = resized(small, 10 * 1024 * 1024);
    expect(big).to.not.equal(small);
    expect(big.length).to.equal(10 * 1024 * 1024);
    expect(big[15]).to.equal(3);
    expect(big[16]).to.equal(0);
  });
});
