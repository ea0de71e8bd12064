import { crc32c } from '../../../common/crc32c.js';

/**
 * The appenders' records: self-describing and reproducible. Every byte of
 * record (writer, seq) follows from those two numbers, so a reader can tell
 * an intact record from a damaged or invented one without asking anyone.
 *
 *   magic u32 | length u32 | writer u32 | seq u32 | payload | crc32c u32
 */
export const RECORD_MAGIC = 0x4e454d52; // "NEMR"
const HEADER_BYTES = 16;
const TRAILER_BYTES = 4;
export const RECORD_MIN_BYTES = HEADER_BYTES + TRAILER_BYTES + 32;
export const RECORD_MAX_BYTES = HEADER_BYTES + TRAILER_BYTES + 2048;

export interface RecordId {
  readonly writer: number;
  readonly seq: number;
}

export function recordKey(id: RecordId): string {
  return `${id.writer}:${id.seq}`;
}

/** The one byte string record (writer, seq) can be. */
export function encodeRecord(writer: number, seq: number): Buffer {
  const payloadBytes = 32 + ((seq * 7919 + writer * 104_729) % 2017);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes + TRAILER_BYTES);
  out.writeUInt32BE(RECORD_MAGIC, 0);
  out.writeUInt32BE(out.length, 4);
  out.writeUInt32BE(writer, 8);
  out.writeUInt32BE(seq, 12);
  // xorshift32 from (writer, seq): distinct records differ almost everywhere.
  let x = (Math.imul(writer + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let i = HEADER_BYTES; i < HEADER_BYTES + payloadBytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  out.writeUInt32BE(crc32c(out.subarray(0, out.length - TRAILER_BYTES)), out.length - TRAILER_BYTES);
  return out;
}

/** What a scan found at one place of the buffer. */
export type ScanItem =
  | { readonly kind: 'record'; readonly offset: number; readonly id: RecordId; readonly length: number }
  /**
   * A prefix of a record that could have been sent (at least its header),
   * cut short by the end of the buffer, by zeros or by the next record: an
   * append that failed part way, or a read that raced one.
   */
  | { readonly kind: 'torn'; readonly offset: number; readonly id: RecordId; readonly bytes: number }
  /** Bytes that are neither zeros nor (a prefix of) a record that could have been sent. */
  | { readonly kind: 'garbage'; readonly offset: number; readonly reason: string };

const MAGIC_BYTES = Buffer.from([0x4e, 0x45, 0x4d, 0x52]);

/**
 * Walks bytes that start at a record boundary (a chunk's start): records
 * back to back, zeros (a chunk's padding) between them, nothing else. A
 * record counts only if every byte is the one `encodeRecord` gives; which
 * records were ever sent is the caller's to judge. After garbage the scan
 * resynchronises on the next magic number, so one damaged record does not
 * hide the rest.
 */
export function scanRecords(data: Buffer): ScanItem[] {
  const items: ScanItem[] = [];
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) {
      p++;
      continue;
    }
    const item = itemAt(data, p);
    items.push(item);
    if (item.kind === 'record') p += item.length;
    else if (item.kind === 'torn') p += item.bytes;
    else {
      const next = data.indexOf(MAGIC_BYTES, p + 1);
      p = next === -1 ? data.length : next;
    }
  }
  return items;
}

function itemAt(data: Buffer, p: number): ScanItem {
  const available = data.length - p;
  if (available < HEADER_BYTES) {
    const have = data.subarray(p);
    return MAGIC_BYTES.subarray(0, Math.min(4, have.length)).equals(have.subarray(0, 4))
      ? { kind: 'torn', offset: p, id: { writer: -1, seq: -1 }, bytes: have.length }
      : { kind: 'garbage', offset: p, reason: `${have.length} stray bytes at the end` };
  }
  if (data.readUInt32BE(p) !== RECORD_MAGIC) return { kind: 'garbage', offset: p, reason: `byte 0x${data[p]!.toString(16)} where a record or padding belongs` };
  const length = data.readUInt32BE(p + 4);
  const id = { writer: data.readUInt32BE(p + 8), seq: data.readUInt32BE(p + 12) };
  if (length < RECORD_MIN_BYTES || length > RECORD_MAX_BYTES) return { kind: 'garbage', offset: p, reason: `a record header with length ${length}` };
  const expected = encodeRecord(id.writer, id.seq);
  if (expected.length !== length) return { kind: 'garbage', offset: p, reason: `record ${recordKey(id)} with length ${length}, not ${expected.length}` };
  const same = commonPrefix(expected, data.subarray(p, p + length));
  if (same === length) return { kind: 'record', offset: p, id, length };
  const cut = p + same;
  if (cut === data.length || allZero(data.subarray(cut, p + length)) || data.subarray(cut, cut + 4).equals(MAGIC_BYTES)) return { kind: 'torn', offset: p, id, bytes: same };
  return { kind: 'garbage', offset: p, reason: `record ${recordKey(id)} differs from what was sent at its byte ${same}` };
}

function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  // Whole comparison first: the common case is an intact record.
  if (a.subarray(0, n).equals(b.subarray(0, n))) return n;
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function allZero(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0) return false;
  return true;
}
