import { assert } from '../common/assert.js';
import { column, resized } from './ascending-rows.js';
import { broken } from './invariant.js';

const SLOTS_INITIAL = 4096;
/** A list that must move to grow gets room for exactly what it holds up to this length, half as much again beyond. */
const EXACT_ROOM_MAX = 8;
/** Abandoned slots are squeezed out once they outnumber the slots in use, and there are at least this many. */
const ABANDONED_MIN = 64 * 1024;

/**
 * Every file's chunk list, by inode row, packed end to end in one column of
 * handles (0 is a hole). A JavaScript array per file cost about 70 bytes of
 * heap for two handles, and left the heap fragmented; here two handles cost
 * 16 bytes and each row 12 more for where its list starts, how long it is and
 * the room it has.
 *
 * A list grows in place when it is the last in the column or has room, and
 * otherwise moves to the end, abandoning its old slots; compact() rewrites
 * the column once abandoned slots outnumber used ones. The inode table
 * resizes and moves these rows along with its own.
 */
export class ChunkLists {
  private starts: Uint32Array;
  private lengths: Uint32Array;
  private rooms: Uint32Array;
  private slots = column(Float64Array, SLOTS_INITIAL);
  /** Every list lies below this slot. */
  private slotsEnd = 0;
  /** The rooms of every list: slots in use. */
  private slotsHeld = 0;

  constructor(capacity: number) {
    this.starts = column(Uint32Array, capacity);
    this.lengths = column(Uint32Array, capacity);
    this.rooms = column(Uint32Array, capacity);
  }

  resize(capacity: number): void {
    this.starts = resized(this.starts, capacity);
    this.lengths = resized(this.lengths, capacity);
    this.rooms = resized(this.rooms, capacity);
  }

  /** Moves row `from`'s list to row `to`, which must have none. */
  move(from: number, to: number): void {
    this.starts[to] = this.starts[from]!;
    this.lengths[to] = this.lengths[from]!;
    this.rooms[to] = this.rooms[from]!;
    this.starts[from] = 0;
    this.lengths[from] = 0;
    this.rooms[from] = 0;
  }

  /** Slots up to the end of the last list, held or abandoned. */
  get slotsUsed(): number {
    return this.slotsEnd;
  }

  length(row: number): number {
    return this.lengths[row]!;
  }

  /** The handle at `index`, 0 for a hole or past the end. */
  at(row: number, index: number): number {
    return index < this.lengths[row]! ? this.slots[this.starts[row]! + index]! : 0;
  }

  /** A copy of the list. */
  list(row: number): number[] {
    const start = this.starts[row]!;
    const length = this.lengths[row]!;
    const list = new Array<number>(length);
    for (let i = 0; i < length; i++) list[i] = this.slots[start + i]!;
    return list;
  }

  /** Puts a handle at `index`, extending the list with holes as needed. */
  set(row: number, index: number, handle: number): void {
    const length = this.lengths[row]!;
    if (index >= length) {
      this.makeRoom(row, index + 1);
      // The room past the end may hold handles of a longer list this one was cut from.
      this.slots.fill(0, this.starts[row]! + length, this.starts[row]! + index);
      this.lengths[row] = index + 1;
    }
    this.slots[this.starts[row]! + index] = handle;
  }

  /** Replaces the list with `list`. */
  replace(row: number, list: readonly number[]): void {
    if (list.length > this.rooms[row]!) this.makeRoom(row, list.length);
    const start = this.starts[row]!;
    for (let i = 0; i < list.length; i++) this.slots[start + i] = list[i]!;
    this.lengths[row] = list.length;
  }

  /** Drops the row's list (its row is being removed). */
  release(row: number): void {
    this.slotsHeld -= this.rooms[row]!;
    this.starts[row] = 0;
    this.lengths[row] = 0;
    this.rooms[row] = 0;
  }

  /**
   * Rewrites the column without abandoned slots once they outnumber the held
   * ones, each list with room for exactly what it holds (between entries
   * only, like every compaction of the master's tables).
   */
  compact(rowEnd: number): void {
    const abandoned = this.slotsEnd - this.slotsHeld;
    if (abandoned < ABANDONED_MIN || abandoned < this.slotsHeld) return;
    // The rooms held bound the lengths that move.
    const slots = column(Float64Array, Math.ceil(this.slotsHeld * 1.25) + SLOTS_INITIAL);
    let end = 0;
    for (let row = 0; row < rowEnd; row++) {
      const length = this.lengths[row]!;
      if (this.rooms[row] === 0) continue;
      const start = this.starts[row]!;
      slots.set(this.slots.subarray(start, start + length), end);
      this.starts[row] = end;
      this.rooms[row] = length;
      end += length;
    }
    this.slots = slots;
    this.slotsEnd = end;
    this.slotsHeld = end;
  }

  /** Asserts that the lists lie inside the column, apart, and add up to what is held; `isList` says which rows may have one. */
  checkStorage(rowEnd: number, isList: (row: number) => boolean): void {
    const taken = new Uint8Array(this.slotsEnd);
    let total = 0;
    for (let row = 0; row < rowEnd; row++) {
      const room = this.rooms[row]!;
      if (this.lengths[row]! > room) broken(`row ${row}'s chunk list is longer than its room`);
      if (room === 0) continue;
      if (!isList(row)) broken(`row ${row} has a chunk list but is not a file`);
      const start = this.starts[row]!;
      if (start + room > this.slotsEnd) broken(`row ${row}'s chunk list runs past the column's end`);
      for (let slot = start; slot < start + room; slot++) {
        if (taken[slot] !== 0) broken(`row ${row}'s chunk list overlaps another`);
        taken[slot] = 1;
      }
      total += room;
    }
    assert(total === this.slotsHeld, 'chunk list rooms disagree with the count held');
  }

  /** Gives the row room for `needed` handles, where it is when it can, keeping what it holds. */
  private makeRoom(row: number, needed: number): void {
    const room = this.rooms[row]!;
    if (needed <= room) return;
    const start = this.starts[row]!;
    if (room > 0 && start + room === this.slotsEnd) {
      // The last list grows where it is, by exactly what it needs.
      this.reserve(this.slotsEnd + needed - room);
      this.slotsEnd += needed - room;
    } else {
      const grown = needed <= EXACT_ROOM_MAX ? needed : Math.max(needed, Math.ceil(room * 1.5));
      this.reserve(this.slotsEnd + grown);
      const at = this.slotsEnd;
      this.slots.copyWithin(at, start, start + this.lengths[row]!);
      this.starts[row] = at;
      this.slotsEnd += grown;
      needed = grown;
    }
    this.slotsHeld += needed - room;
    this.rooms[row] = needed;
  }

  private reserve(slots: number): void {
    if (!(slots < 2 ** 32)) broken('chunk list slots exhausted');
    if (slots > this.slots.length) this.slots = resized(this.slots, Math.ceil(slots * 1.25) + SLOTS_INITIAL);
  }
}
