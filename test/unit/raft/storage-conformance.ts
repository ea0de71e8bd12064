import { expect } from 'chai';
import { isStorageError, type StorageErrorCode } from '../../../raft/core/storage.js';
import { nodeId, type Entry, type Snapshot } from '../../../raft/core/types.js';
import type { RaftStorage } from '../../../raft/storage/raft-storage.js';

export interface StorageHarness {
  storage: RaftStorage;
  /** Closes and reopens the same storage: only what was durable survives. */
  reopen(): Promise<RaftStorage>;
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const entry = (index: number, term: number, data = `d${index}.${term}`): Entry => ({ index, term, type: 'normal', data: enc.encode(data) });
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const conf = { voters: [nodeId('a'), nodeId('b')], learners: [nodeId('c')] };

function errorCode(fn: () => unknown): StorageErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    if (isStorageError(err)) return err.code;
    throw err;
  }
  return undefined;
}

async function asyncErrorCode(fn: () => Promise<unknown>): Promise<StorageErrorCode | undefined> {
  try {
    await fn();
  } catch (err) {
    if (isStorageError(err)) return err.code;
    throw err;
  }
  return undefined;
}

/** One suite that every RaftStorage implementation must pass. */
export function storageConformance(name: string, create: () => Promise<StorageHarness>): void {
  describe(`storage conformance: ${name}`, () => {
    let h: StorageHarness;
    let s: RaftStorage;

    beforeEach(async () => {
      h = await create();
      s = h.storage;
    });

    afterEach(async () => {
      await h.cleanup();
    });

    const save = (update: Partial<{ entries: Entry[]; hardState: { term: number; vote: string | null; commit: number }; snapshot: Snapshot }>) =>
      s.save(
        {
          entries: update.entries ?? [],
          hardState: update.hardState === undefined ? null : { ...update.hardState, vote: update.hardState.vote === null ? null : nodeId(update.hardState.vote) },
          snapshot: update.snapshot ?? null,
        },
        true,
      );

    it('starts empty: first index 1, last index 0, term 0 at index 0, empty hard and conf state', () => {
      expect(s.firstIndex()).to.equal(1);
      expect(s.lastIndex()).to.equal(0);
      expect(s.term(0)).to.equal(0);
      expect(s.initialState()).to.deep.equal({ hardState: { term: 0, vote: null, commit: 0 }, confState: { voters: [], learners: [] } });
      expect(s.snapshot().metadata.index).to.equal(0);
    });

    it('returns appended entries in ranges, within maxBytes but at least one', async () => {
      await save({ entries: range(1, 5, 1) });
      expect(s.lastIndex()).to.equal(5);
      expect(s.entries(2, 5, Infinity).map((e) => e.index)).to.deep.equal([2, 3, 4]);
      expect(s.entries(1, 6, 1).map((e) => e.index)).to.deep.equal([1]);
      // Each entry is 5 bytes of data plus 24 of overhead.
      expect(s.entries(1, 6, 60).map((e) => e.index)).to.deep.equal([1, 2]);
      expect(s.term(3)).to.equal(1);
      expect(new TextDecoder().decode(s.entries(3, 4, Infinity)[0]!.data)).to.equal('d3.1');
    });

    it('an append that overlaps the log replaces the conflicting suffix', async () => {
      await save({ entries: range(1, 5, 1) });
      await save({ entries: range(3, 4, 2) });
      expect(s.lastIndex()).to.equal(4);
      expect([1, 2, 3, 4].map((i) => s.term(i))).to.deep.equal([1, 1, 2, 2]);
    });

    it('reports COMPACTED below the log and UNAVAILABLE past its end', async () => {
      await save({ entries: range(1, 10, 1) });
      await s.createSnapshot(5, conf, enc.encode('state'));
      await s.compact(5);
      expect(errorCode(() => s.term(4))).to.equal('COMPACTED');
      expect(errorCode(() => s.entries(5, 7, Infinity))).to.equal('COMPACTED');
      expect(errorCode(() => s.term(11))).to.equal('UNAVAILABLE');
      expect(s.term(5)).to.equal(1);
    });

    it('saves hard state and entries in one update', async () => {
      await save({ entries: range(1, 3, 2), hardState: { term: 2, vote: 'a', commit: 2 } });
      expect(s.initialState().hardState).to.deep.equal({ term: 2, vote: 'a', commit: 2 });
      expect(s.lastIndex()).to.equal(3);
    });

    it('applying a snapshot replaces the whole log', async () => {
      await save({ entries: range(1, 5, 1) });
      const snap: Snapshot = { metadata: { index: 8, term: 3, confState: conf }, data: enc.encode('state@8') };
      await save({ snapshot: snap, entries: [entry(9, 3)], hardState: { term: 3, vote: null, commit: 8 } });
      expect(s.firstIndex()).to.equal(9);
      expect(s.lastIndex()).to.equal(9);
      expect(s.term(8)).to.equal(3);
      expect(s.snapshot()).to.deep.equal(snap);
      expect(s.initialState().confState).to.deep.equal(conf);
    });

    it('refuses a snapshot that is not newer than the one it holds', async () => {
      await save({ snapshot: { metadata: { index: 8, term: 3, confState: conf }, data: enc.encode('x') } });
      expect(await asyncErrorCode(() => save({ snapshot: { metadata: { index: 8, term: 3, confState: conf }, data: enc.encode('y') } }))).to.equal(
        'SNAPSHOT_OUT_OF_DATE',
      );
      expect(await asyncErrorCode(() => s.createSnapshot(7, conf, enc.encode('z')))).to.equal('SNAPSHOT_OUT_OF_DATE');
    });

    it('createSnapshot records the state at an index and keeps the entries until compact()', async () => {
      await save({ entries: range(1, 10, 2) });
      const snap = await s.createSnapshot(6, conf, enc.encode('state@6'));
      expect(snap.metadata).to.deep.equal({ index: 6, term: 2, confState: conf });
      expect(s.snapshot()).to.deep.equal(snap);
      expect(s.firstIndex()).to.equal(1);
      await s.compact(4);
      expect(s.firstIndex()).to.equal(5);
      expect(s.term(4)).to.equal(2);
      expect(s.entries(5, 11, Infinity)).to.have.length(6);
    });

    it('restores everything after a reopen', async () => {
      await save({ entries: range(1, 10, 1), hardState: { term: 4, vote: 'b', commit: 9 } });
      await save({ entries: range(9, 12, 4), hardState: { term: 4, vote: 'b', commit: 9 } });
      await s.createSnapshot(7, conf, enc.encode('state@7'));
      await s.compact(6);
      s = await h.reopen();
      expect(s.initialState()).to.deep.equal({ hardState: { term: 4, vote: 'b', commit: 9 }, confState: conf });
      expect(s.firstIndex()).to.equal(7);
      expect(s.lastIndex()).to.equal(12);
      expect([6, 7, 8, 9, 12].map((i) => s.term(i))).to.deep.equal([1, 1, 1, 4, 4]);
      expect(s.snapshot().metadata.index).to.equal(7);
      expect(new TextDecoder().decode(s.snapshot().data)).to.equal('state@7');
      expect(s.entries(7, 13, Infinity).map((e) => e.index)).to.deep.equal([7, 8, 9, 10, 11, 12]);
    });

    it('restores an installed snapshot after a reopen', async () => {
      await save({ entries: range(1, 3, 1) });
      await save({ snapshot: { metadata: { index: 20, term: 5, confState: conf }, data: enc.encode('big') }, hardState: { term: 5, vote: null, commit: 20 } });
      await save({ entries: [entry(21, 5)] });
      s = await h.reopen();
      expect(s.firstIndex()).to.equal(21);
      expect(s.lastIndex()).to.equal(21);
      expect(s.term(20)).to.equal(5);
      expect(errorCode(() => s.term(3))).to.equal('COMPACTED');
    });
  });
}
