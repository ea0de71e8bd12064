import { assert } from '../common/assert.js';

/**
 * The protobuf wire format, by hand, for snapshots: a million inode records
 * through protobufjs cost an object per field written (its Writer's op list)
 * and a Long per 64-bit field read, and most of the time went to the garbage
 * collector. These write into one growing buffer and read numbers straight
 * from the bytes. 64-bit values are JS numbers: the writer asserts they are
 * safe integers; the reader returns NaN for any that is not, and callers
 * refuse it.
 *
 * The writer skips fields at their proto3 default, as protobuf encoders do;
 * the reader accepts them either way, and repeated scalars packed or not.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;

export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** A uint32/uint64/enum field; skipped at 0. */
  uint(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** An int64 field; skipped at 0. Negative values take ten bytes, two's complement. */
  int(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_VARINT);
    if (value > 0) this.varint(value);
    else this.negative(value);
  }

  bool(field: number, value: boolean): void {
    if (!value) return;
    this.tag(field, WIRE_VARINT);
    this.ensure(1);
    this.buf[this.pos++] = 1;
  }

  string(field: number, value: string): void {
    if (value.length === 0) return;
    const length = Buffer.byteLength(value, 'utf8');
    this.tag(field, WIRE_LEN);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  /** Bytes encoded elsewhere (a sub-message), as a length-delimited field. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** A packed repeated uint64 field; skipped when empty. */
  packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const mark = this.begin(field);
    for (const value of values) this.varint(value);
    this.end(mark);
  }

  /** Starts a sub-message; returns the mark that end() takes. */
  begin(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(5);
    const mark = this.pos;
    this.pos += 5; // room for the length, which is not known yet
    return mark;
  }

  /** Ends a sub-message: writes its length and closes the gap left for it. */
  end(mark: number): void {
    const bodyStart = mark + 5;
    const length = this.pos - bodyStart;
    let at = mark;
    let rest = length;
    while (rest > 127) {
      this.buf[at++] = (rest & 127) | 128;
      rest >>>= 7;
    }
    this.buf[at++] = rest;
    if (at < bodyStart) {
      this.buf.copyWithin(at, bodyStart, this.pos);
      this.pos -= bodyStart - at;
    }
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private varint(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) assert(false, `not a safe uint64: ${value}`);
    this.ensure(10);
    const buf = this.buf;
    while (value >= TWO_32) {
      buf[this.pos++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    while (value > 127) {
      buf[this.pos++] = (value & 127) | 128;
      value >>>= 7;
    }
    buf[this.pos++] = value;
  }

  private negative(value: number): void {
    if (!Number.isSafeInteger(value)) assert(false, `not a safe int64: ${value}`);
    this.ensure(10);
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest > 127n) {
      this.buf[this.pos++] = Number(rest & 127n) | 128;
      rest >>= 7n;
    }
    this.buf[this.pos++] = Number(rest);
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Thrown for bytes that are not well-formed protobuf. */
export class WireError extends Error {
  override name = 'WireError';
}

export class ProtoReader {
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next tag: field number * 8 + wire type. */
  tag(): number {
    const tag = this.varint();
    if (!(tag >= 8)) throw new WireError(`bad tag at ${this.pos}`);
    return tag;
  }

  /** A varint as a number, or NaN when it is not a safe non-negative integer. */
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const byte = buf[this.pos++]!;
      result += (byte & 127) * scale;
      if (byte < 128) return result <= Number.MAX_SAFE_INTEGER ? result : NaN;
      scale *= 128;
    }
    throw new WireError('varint longer than ten bytes');
  }

  /** An int64 varint as a number (two's complement), or NaN when it is not a safe integer. */
  int64(): number {
    const start = this.pos;
    const value = this.varint();
    if (!Number.isNaN(value)) return value;
    this.pos = start;
    let big = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buf[this.pos++]!;
      big |= BigInt(byte & 127) << shift;
      if (byte < 128) break;
      shift += 7n;
    }
    const signed = BigInt.asIntN(64, big);
    return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : NaN;
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** The end offset of a length-delimited field starting here. */
  delimited(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (!(end <= this.end)) throw new WireError('length past the end');
    return end;
  }

  string(): string {
    const end = this.delimited();
    const text = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, end - this.pos).toString('utf8');
    this.pos = end;
    return text;
  }

  bytes(): Uint8Array {
    const end = this.delimited();
    const bytes = this.buf.subarray(this.pos, end);
    this.pos = end;
    return bytes;
  }

  /** Appends a repeated uint64 field's values, packed (LEN) or one at a time (VARINT). */
  repeated(wire: number, into: number[]): void {
    if (wire === WIRE_VARINT) {
      into.push(this.varint());
      return;
    }
    if (wire !== WIRE_LEN) throw new WireError('bad wire type for a repeated integer');
    const end = this.delimited();
    while (this.pos < end) into.push(this.varint());
    if (this.pos !== end) throw new WireError('packed field overruns its length');
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.pos = this.delimited();
        return;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        throw new WireError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new WireError('field past the end');
  }
}
