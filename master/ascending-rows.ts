import { assert } from '../common/assert.js';
import { broken } from './invariant.js';

/**
 * Row storage for tables with millions of records keyed by ids that only
 * grow (inode ids, chunk handles). Each field lives in its own typed array (a
 * column) indexed by row: an object per record with a dozen fields and boxed
 * doubles costs about 200 bytes on a 64-bit V8 heap, a row about 60.
 *
 * Rows are appended in id order, so the id column stays sorted and a lookup
 * is a binary search: no hash table, no slack of its own, and iteration in id
 * order for free. A removed row keeps its id, negated, until compact()
 * squeezes the dead rows out. Row numbers are stable between compactions;
 * the state machine compacts between entries only, so a row found while
 * applying one entry stays valid until that entry is done.
 */
export class AscendingRows {
  /** |id| ascending; a negative id marks a dead row. */
  private ids: Float64Array;
  private used = 0;
  private deadCount = 0;

  /**
   * `resize(capacity)` must resize every other column to `capacity` rows,
   * keeping the first rows; `move(from, to)` must copy row `from` of every
   * other column to row `to` (to < from).
   */
  constructor(
    private capacity: number,
    private readonly resize: (capacity: number) => void,
    private readonly move: (from: number, to: number) => void,
  ) {
    this.ids = column(Float64Array, capacity);
  }

  /** Live rows. */
  get live(): number {
    return this.used - this.deadCount;
  }

  /** Every row ever appended since the last compaction is below this. */
  get end(): number {
    return this.used;
  }

  /** The row of a live id, or -1. */
  find(id: number): number {
    // NaN compares false both ways and would land on a row.
    if (!(id > 0)) return -1;
    const ids = this.ids;
    let lo = 0;
    let hi = this.used - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = ids[mid]!;
      const abs = at < 0 ? -at : at;
      if (abs < id) lo = mid + 1;
      else if (abs > id) hi = mid - 1;
      else return at > 0 ? mid : -1;
    }
    return -1;
  }

  isLive(row: number): boolean {
    return row >= 0 && row < this.used && this.ids[row]! > 0;
  }

  /** The id of a live row. */
  id(row: number): number {
    const id = this.ids[row]!;
    if (!(row < this.used && id > 0)) broken(`row ${row} is not live`);
    return id;
  }

  /** A new row for `id`, which must exceed every id appended before. */
  append(id: number): number {
    if (!(Number.isSafeInteger(id) && id > 0)) broken(`bad row id ${id}`);
    const last = this.used === 0 ? 0 : Math.abs(this.ids[this.used - 1]!);
    if (!(id > last)) broken(`row ids must ascend: ${id} after ${last}`);
    if (this.used === this.capacity) {
      // 1.25x: the unused tail stays below a fifth of the columns.
      this.setCapacity(Math.ceil(this.capacity * 1.25) + 16);
    }
    this.ids[this.used] = id;
    return this.used++;
  }

  remove(row: number): void {
    if (!this.isLive(row)) broken(`removing dead row ${row}`);
    this.ids[row] = -this.ids[row]!;
    this.deadCount++;
  }

  /** Squeezes out dead rows once they are a quarter of the table; returns whether rows moved. */
  compact(): boolean {
    if (this.deadCount === 0 || this.deadCount * 4 < this.used) return false;
    const ids = this.ids;
    let to = 0;
    for (let from = 0; from < this.used; from++) {
      if (ids[from]! < 0) continue;
      if (from !== to) {
        ids[to] = ids[from]!;
        this.move(from, to);
      }
      to++;
    }
    ids.fill(0, to, this.used);
    this.used = to;
    this.deadCount = 0;
    if (this.used * 2 < this.capacity) this.setCapacity(Math.ceil(this.used * 1.25) + 16);
    return true;
  }

  private setCapacity(capacity: number): void {
    assert(capacity >= this.used, 'shrinking below the rows in use');
    this.capacity = capacity;
    this.ids = resized(this.ids, capacity);
    this.resize(capacity);
  }
}

export type Column = Float64Array | Uint32Array | Uint16Array | Uint8Array;

interface ColumnClass<T extends Column> {
  new (buffer: ArrayBuffer): T;
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** The most a column's buffer reserves: V8 refuses a resizable buffer of more. */
const RESERVE_BYTES_MAX = 2 ** 32;
/** A new buffer reserves this many times what it holds, so that a growing column moves rarely. */
const RESERVE_FACTOR = 4;
const RESERVE_BYTES_MIN = 64 * 1024;

/**
 * A column of `capacity` zeroed rows, over a resizable buffer that reserves
 * room to grow in place. Columns are the master's bulk: copied into a new
 * malloc'd array at each growth, they left the old arrays as holes in the
 * allocator's heap that stayed resident (a third more than the rows
 * themselves at a million files). A resizable buffer is mapped on its own, so
 * growing commits pages in place, and a buffer that is replaced or freed goes
 * back to the kernel whole.
 */
export function column<T extends Column>(kind: ColumnClass<T>, capacity: number): T {
  const bytes = capacity * kind.BYTES_PER_ELEMENT;
  if (bytes > RESERVE_BYTES_MAX) return new kind(capacity);
  const reserve = Math.min(RESERVE_BYTES_MAX, Math.max(RESERVE_BYTES_MIN, bytes * RESERVE_FACTOR));
  // A view without a length follows the buffer's length as it is resized.
  return new kind(new ArrayBuffer(bytes, { maxByteLength: reserve }));
}

/**
 * `current` if it can hold `value`, or else a copy wide enough: 8 or 16 bits,
 * then 32, then doubles. For columns whose values are almost always small
 * (versions, owners while inode ids fit 32 bits, reference counts) but may
 * grow without bound: the million rows of a large master pay for the width
 * they use.
 */
export function fitting(current: Column, value: number): Column {
  if (current instanceof Float64Array) return current;
  const max = current instanceof Uint32Array ? 0xffff_ffff : current instanceof Uint16Array ? 0xffff : 0xff;
  const whole = Number.isInteger(value) && value >= 0;
  if (whole && value <= max) return current;
  const wider = whole && value <= 0xffff_ffff ? column(Uint32Array, current.length) : column(Float64Array, current.length);
  wider.set(current);
  return wider;
}

/** `column` with `capacity` rows: its first rows, then zeros. In place while its buffer's reservation allows. */
export function resized<T extends Column>(current: T, capacity: number): T {
  const kind = current.constructor as ColumnClass<T>;
  const bytes = capacity * kind.BYTES_PER_ELEMENT;
  const buffer = current.buffer;
  if (buffer instanceof ArrayBuffer && buffer.resizable && bytes <= buffer.maxByteLength) {
    // Bytes a resize adds are zeros, as in a new column.
    buffer.resize(bytes);
    return current;
  }
  const next = column(kind, capacity);
  next.set(current.subarray(0, Math.min(current.length, capacity)) as ArrayLike<number>);
  return next;
}
