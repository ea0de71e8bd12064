import { expect } from 'chai';
import { chunkVersion } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { DfsError } from '../../../common/errors.js';
import {
  checkLineage,
  committed,
  EMPTY_LINEAGE,
  NO_OVERWRITE,
  overwritten,
  reusableLength,
  UNKNOWN_LINEAGE,
  type Lineage,
} from '../../../chunkserver/lineage.js';
import { ChunkModel, rng } from './helpers.js';

const v = chunkVersion;

describe('lineage: what a base replica shares with a newer one', () => {
  it('an append-only history reuses the whole base', () => {
    // created empty, committed at 0, 1000 bytes written; a new lease at 1000, 200 appended
    let l = committed(EMPTY_LINEAGE, v(1), 0);
    l = committed(l, v(2), 1000);
    expect(l.entries).to.deep.equal([
      { version: 1, prefix: 0 },
      { version: 2, prefix: 1000 },
    ]);
    expect(reusableLength(l, 1200, v(1), 1000)).to.equal(1000);
    expect(reusableLength(l, 1200, v(2), 1200)).to.equal(1200);
  });

  it('a write below the old length at the new version lowers the prefix to it', () => {
    let l = committed(committed(EMPTY_LINEAGE, v(1), 0), v(2), 1000);
    l = overwritten(l, 400);
    expect(reusableLength(l, 1000, v(1), 1000)).to.equal(400);
    // a later write higher up changes nothing
    expect(overwritten(l, 700)).to.deep.equal(l);
  });

  it('a write at a version is folded into the next one: a copy taken during it is a base up to there', () => {
    let l = committed(EMPTY_LINEAGE, v(1), 0);
    // at version 1, bytes appended to 1000, then byte 600 written over (a copy taken before it holds the old byte)
    l = overwritten(l, 600);
    expect(reusableLength(l, 1000, v(1), 1000)).to.equal(600);
    l = committed(l, v(2), 1000);
    expect(l.overwrittenFrom).to.equal(NO_OVERWRITE);
    expect(reusableLength(l, 1300, v(1), 1000)).to.equal(600);
  });

  it('a cut lowers the prefix to the new length, and a commit at a shorter common length too', () => {
    let l = committed(committed(EMPTY_LINEAGE, v(1), 0), v(2), 1000);
    l = overwritten(l, 300); // TRUNCATE to 300, then grown again
    expect(reusableLength(l, 900, v(1), 1000)).to.equal(300);
    const shorter = committed(committed(EMPTY_LINEAGE, v(1), 0), v(2), 800);
    expect(reusableLength(shorter, 900, v(1), 1000)).to.equal(800);
  });

  it('reuses nothing when the history does not reach the base version, or is unknown', () => {
    let l = committed(EMPTY_LINEAGE, v(1), 0);
    for (let version = 2; version <= LIMITS.lineageEntriesMax + 3; version++) l = committed(l, v(version), 1000);
    expect(l.entries).to.have.length(LIMITS.lineageEntriesMax);
    expect(reusableLength(l, 1000, v(1), 1000)).to.equal(0);
    expect(reusableLength(l, 1000, v(4), 1000)).to.equal(1000);
    expect(reusableLength(UNKNOWN_LINEAGE, 1000, v(4), 1000)).to.equal(0);
    // a version this replica never had (it skipped from 1 to 3)
    const skipped = committed(committed(EMPTY_LINEAGE, v(1), 0), v(3), 500);
    expect(reusableLength(skipped, 500, v(2), 500)).to.equal(0);
    // an unknown history committed forward vouches for nothing of the version before
    expect(reusableLength(committed(UNKNOWN_LINEAGE, v(5), 800), 800, v(5), 800)).to.equal(800);
    expect(committed(UNKNOWN_LINEAGE, v(5), 800).entries).to.deep.equal([{ version: 5, prefix: 0 }]);
  });

  it('never reuses past the newer replica\'s length or the base\'s', () => {
    const l = committed(committed(EMPTY_LINEAGE, v(1), 0), v(2), 1000);
    expect(reusableLength(l, 700, v(2), 1000)).to.equal(700);
    expect(reusableLength(l, 1000, v(1), 300)).to.equal(300);
  });

  it('checks a peer\'s lineage: ascending, ending at the replica\'s version, bounded', () => {
    const l = committed(committed(EMPTY_LINEAGE, v(1), 0), v(2), 1000);
    expect(checkLineage(l, v(2))).to.equal(l);
    expect(checkLineage(EMPTY_LINEAGE, v(7))).to.equal(EMPTY_LINEAGE);
    expect(() => checkLineage(l, v(3))).to.throw(DfsError, /ends at version 2/);
    expect(() => checkLineage({ entries: [...l.entries].reverse(), overwrittenFrom: 0 }, v(1))).to.throw(DfsError, /ascending/);
    const long = { entries: Array.from({ length: LIMITS.lineageEntriesMax + 1 }, (_, i) => ({ version: v(i + 1), prefix: 0 })), overwrittenFrom: 0 };
    expect(() => checkLineage(long, v(LIMITS.lineageEntriesMax + 1))).to.throw(DfsError, /entries/);
  });

  /**
   * The property that matters: simulate a replica's bytes through random
   * versions (appends, writes below the length, cuts, lease commits at a
   * common length), take snapshots (bytes, version, length) at random
   * moments, and check that for every snapshot the bytes the lineage says
   * are reusable equal the replica's current bytes.
   */
  it('randomized: reused bytes always equal the current replica\'s bytes', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      const model = new ChunkModel();
      let lineage: Lineage = committed(EMPTY_LINEAGE, v(1), 0);
      let version = 1;
      const snapshots: { version: number; bytes: Buffer }[] = [];
      for (let step = 0; step < 60; step++) {
        const op = rand(10);
        if (op < 4) {
          model.write(model.length, Buffer.alloc(1 + rand(50), 1 + rand(250)));
        } else if (op < 6 && model.length > 0) {
          const at = rand(model.length);
          model.write(at, Buffer.alloc(1 + rand(30), 1 + rand(250)));
          lineage = overwritten(lineage, at);
        } else if (op === 6 && model.length > 0) {
          const to = rand(model.length);
          model.resize(to);
          lineage = overwritten(lineage, to);
        } else if (op === 7) {
          const common = rand(model.length + 1);
          model.resize(common);
          version += 1 + rand(2);
          lineage = committed(lineage, v(version), common);
        } else {
          snapshots.push({ version, bytes: model.slice(0, model.length) });
        }
        for (const snap of snapshots) {
          const reuse = reusableLength(lineage, model.length, v(snap.version), snap.bytes.length);
          const current = model.slice(0, reuse);
          expect(snap.bytes.subarray(0, reuse).equals(current), `seed ${seed} step ${step}: snapshot at v${snap.version} reuses ${reuse}`).to.equal(true);
        }
      }
    }
  });
});
