import { Level } from 'level';
import { DfsError } from '../../common/errors.js';
import type { Entry as WireEntry, Entry__Output as WireEntryOut } from '../../proto/generated/dfs/raft/Entry.js';
import type { HardState as WireHardState, HardState__Output as WireHardStateOut } from '../../proto/generated/dfs/raft/HardState.js';
import type { Snapshot as WireSnapshot, Snapshot__Output as WireSnapshotOut } from '../../proto/generated/dfs/raft/Snapshot.js';
import { StorageError } from '../core/storage.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, type ConfState, type Entry, type HardState, type Index, type Snapshot, type Term } from '../core/types.js';
import { entryFromWire, entryToWire, hardStateFromWire, hardStateToWire, snapshotFromWire, snapshotToWire } from '../proto/convert.js';
import { raftCodec } from '../proto/raft-proto.js';
import { MemoryStorage } from './memory-storage.js';
import type { RaftStorage, StorageUpdate } from './raft-storage.js';

/**
 * The Raft log, hard state and snapshot in LevelDB. Layout:
 *   "hard"          HardState
 *   "snapshot"      Snapshot (metadata and data)
 *   "start"         Entry without data: the compaction point (index, term)
 *   "e:<16 hex>"    Entry, keyed by index so that keys sort by index
 * Every save() is one batch, so hard state, entries and snapshot change
 * together or not at all. Reads are served from an in-memory mirror
 * (MemoryStorage) of everything after the compaction point, which keeps the
 * core synchronous; compaction bounds its size.
 */
const HARD = 'hard';
const SNAPSHOT = 'snapshot';
const START = 'start';
const ENTRY_PREFIX = 'e:';

const entryKey = (index: Index): string => ENTRY_PREFIX + index.toString(16).padStart(16, '0');

type BatchOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export class LevelDbStorage implements RaftStorage {
  private readonly mirror = new MemoryStorage();
  private readonly entryCodec = raftCodec<WireEntry, WireEntryOut>('Entry');
  private readonly hardCodec = raftCodec<WireHardState, WireHardStateOut>('HardState');
  private readonly snapshotCodec = raftCodec<WireSnapshot, WireSnapshotOut>('Snapshot');

  private constructor(private readonly db: Level<string, Buffer>) {}

  static async open(dir: string): Promise<LevelDbStorage> {
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const storage = new LevelDbStorage(db);
    try {
      await storage.load();
    } catch (err) {
      await db.close();
      throw err;
    }
    return storage;
  }

  private async load(): Promise<void> {
    const [hard, snap, start] = await this.db.getMany([HARD, SNAPSHOT, START]);
    try {
      const hardState = hard === undefined ? EMPTY_HARD_STATE : hardStateFromWire(this.hardCodec.decode(hard));
      const snapshot = snap === undefined ? EMPTY_SNAPSHOT : snapshotFromWire(this.snapshotCodec.decode(snap));
      const logStart = start === undefined ? { index: 0, term: 0 } : entryFromWire(this.entryCodec.decode(start));
      const entries: Entry[] = [];
      for await (const value of this.db.values({ gt: entryKey(logStart.index), lt: ENTRY_PREFIX + '~' })) {
        entries.push(entryFromWire(this.entryCodec.decode(value)));
      }
      this.mirror.load({ hardState, snapshot, logStart: { index: logStart.index, term: logStart.term }, entries });
    } catch (err) {
      throw new DfsError('INTERNAL', 'raft storage is corrupt', { cause: err });
    }
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.mirror.initialState();
  }

  entries(lo: Index, hi: Index, maxBytes: number): Entry[] {
    return this.mirror.entries(lo, hi, maxBytes);
  }

  term(i: Index): Term {
    return this.mirror.term(i);
  }

  firstIndex(): Index {
    return this.mirror.firstIndex();
  }

  lastIndex(): Index {
    return this.mirror.lastIndex();
  }

  snapshot(): Snapshot {
    return this.mirror.snapshot();
  }

  async save(update: StorageUpdate, sync: boolean): Promise<void> {
    const ops: BatchOp[] = [];
    let first = this.mirror.firstIndex();
    let last = this.mirror.lastIndex();
    if (update.snapshot !== null) {
      const { index, term } = update.snapshot.metadata;
      const current = this.mirror.snapshot().metadata.index;
      if (index <= current || index <= first - 1) {
        throw new StorageError('SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} is not newer than ${current}`);
      }
      ops.push({ type: 'put', key: SNAPSHOT, value: this.snapshotCodec.encode(snapshotToWire(update.snapshot)) });
      ops.push({ type: 'put', key: START, value: this.entryCodec.encode(entryToWire({ index, term, type: 'normal', data: new Uint8Array(0) })) });
      for (let i = first; i <= last; i++) ops.push({ type: 'del', key: entryKey(i) });
      first = index + 1;
      last = index;
    }
    if (update.entries.length > 0) {
      const from = update.entries[0]!.index;
      if (from < first || from > last + 1) {
        throw new DfsError('INTERNAL', `raft storage: append at ${from} does not fit the log [${first}, ${last}]`);
      }
      const newLast = from + update.entries.length - 1;
      for (let i = newLast + 1; i <= last; i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const e of update.entries) ops.push({ type: 'put', key: entryKey(e.index), value: this.entryCodec.encode(entryToWire(e)) });
    }
    if (update.hardState !== null) ops.push({ type: 'put', key: HARD, value: this.hardCodec.encode(hardStateToWire(update.hardState)) });
    if (ops.length === 0) return;
    await this.db.batch(ops, { sync });
    this.mirror.saveSync(update);
  }

  async createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const current = this.mirror.snapshot().metadata.index;
    if (index <= current) throw new StorageError('SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} is not newer than ${current}`);
    const snapshot: Snapshot = { metadata: { index, term: this.mirror.term(index), confState }, data };
    await this.db.put(SNAPSHOT, this.snapshotCodec.encode(snapshotToWire(snapshot)), { sync: true });
    return this.mirror.createSnapshotSync(index, confState, data);
  }

  async compact(index: Index): Promise<void> {
    const start = this.mirror.logStart();
    if (index <= start.index) return;
    const snapIndex = this.mirror.snapshot().metadata.index;
    if (index > snapIndex) throw new DfsError('INTERNAL', `raft storage: compacting to ${index} past the snapshot at ${snapIndex}`);
    const term = this.mirror.term(index);
    const ops: BatchOp[] = [{ type: 'put', key: START, value: this.entryCodec.encode(entryToWire({ index, term, type: 'normal', data: new Uint8Array(0) })) }];
    for (let i = start.index + 1; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) });
    // Not synced: if the deletions are lost in a crash the entries simply come back.
    await this.db.batch(ops, { sync: false });
    this.mirror.compactSync(index);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
