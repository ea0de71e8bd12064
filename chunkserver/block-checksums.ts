import { assert } from '../common/assert.js';
import { crc32c } from '../common/crc32c.js';
import { LIMITS } from '../common/limits.js';

/**
 * Per-block CRC32C of a chunk replica: the pure part. Which blocks a mutation
 * changes, where each changed block's new bytes come from, and the new CRC,
 * computed without reading the block back whenever the old bytes are either
 * all replaced or kept whole as a prefix (appends continue the old CRC).
 *
 * A block's CRC covers the bytes [start, min(start + BLOCK_BYTES, length)) of
 * the chunk; an empty block's CRC is 0, which is also the initial value that
 * continuation starts from.
 */
export const BLOCK_BYTES = LIMITS.checksumBlockBytes;

/** Blocks per LevelDB value: 1 MiB of data, 64 bytes of CRCs. A small append rewrites 64 bytes, and a 64 MiB chunk loads as 64 values. */
export const GROUP_BLOCKS = 16;

/** Shared, never written: the source of every zero-run CRC. */
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);
export const ZERO_BLOCK_CRC = crc32c(ZERO_BLOCK);

export function blockCount(length: number): number {
  return Math.ceil(length / BLOCK_BYTES);
}

export function groupCount(blocks: number): number {
  return Math.ceil(blocks / GROUP_BLOCKS);
}

/** CRC of `length` zero bytes (at most one block), continuing `initial`. */
export function crc32cZeros(length: number, initial = 0): number {
  assert(length >= 0 && length <= BLOCK_BYTES, `zero run of ${length} bytes is not within one block`);
  if (length === BLOCK_BYTES && initial === 0) return ZERO_BLOCK_CRC;
  return crc32c(ZERO_BLOCK.subarray(0, length), initial);
}

/**
 * One change to a chunk's bytes: [dataOffset, dataOffset + dataLength) takes
 * new data, then the length becomes `newLength`; bytes in
 * [prevLength, newLength) that the data does not cover are zeros. A write
 * has newLength = max(prevLength, data end); a pad or growing truncate has no
 * data; a shrink has no data and newLength < prevLength.
 */
export interface ByteChange {
  readonly prevLength: number;
  readonly newLength: number;
  readonly dataOffset: number;
  readonly dataLength: number;
}

/** Half-open range of block indices. */
export interface BlockSpan {
  readonly first: number;
  readonly end: number;
}

/** The blocks whose CRCs a change alters (empty when nothing changes). */
export function changedBlocks(change: ByteChange): BlockSpan {
  const { prevLength, newLength, dataOffset, dataLength } = change;
  let from: number;
  let to: number;
  if (newLength < prevLength) {
    assert(dataLength === 0, 'a shrink carries no data');
    from = newLength;
    to = prevLength;
  } else if (dataLength > 0) {
    assert(newLength === Math.max(prevLength, dataOffset + dataLength), 'a write sets the length to max(length, end)');
    from = Math.min(dataOffset, prevLength);
    to = dataOffset + dataLength;
  } else {
    from = prevLength;
    to = newLength;
  }
  if (from >= to) return { first: 0, end: 0 };
  return { first: Math.floor(from / BLOCK_BYTES), end: blockCount(to) };
}

export type SegmentSource = 'old' | 'data' | 'zero';

/** Bytes [from, to) of the chunk (absolute offsets), all from one source. */
export interface Segment {
  readonly source: SegmentSource;
  readonly from: number;
  readonly to: number;
}

/** Where block `block`'s bytes come from after the change, in order; empty if the block ends up empty. */
export function blockSegments(block: number, change: ByteChange): Segment[] {
  const { prevLength, newLength, dataOffset, dataLength } = change;
  const start = block * BLOCK_BYTES;
  const end = Math.min(start + BLOCK_BYTES, newLength);
  if (end <= start) return [];
  const dataEnd = dataOffset + dataLength;
  const cuts = [start, end];
  for (const point of [prevLength, dataOffset, dataEnd]) if (point > start && point < end) cuts.push(point);
  cuts.sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const from = cuts[i]!;
    const to = cuts[i + 1]!;
    if (from === to) continue;
    const source: SegmentSource =
      dataLength > 0 && from >= dataOffset && to <= dataEnd ? 'data' : to <= prevLength ? 'old' : 'zero';
    const last = segments[segments.length - 1];
    if (last !== undefined && last.source === source) segments[segments.length - 1] = { source, from: last.from, to };
    else segments.push({ source, from, to });
  }
  return segments;
}

/** Bytes of `block` that exist before the change: what its current CRC covers. */
export function oldBlockBytes(block: number, prevLength: number): number {
  return Math.max(0, Math.min(BLOCK_BYTES, prevLength - block * BLOCK_BYTES));
}

/**
 * Whether computing the block's new CRC needs its old bytes read back: yes
 * when some old bytes survive but not as the whole old content at the start
 * of the block (an overwrite of part of the block, or a shrink into it).
 */
export function needsOldBytes(block: number, segments: readonly Segment[], prevLength: number): boolean {
  const old = segments.filter((s) => s.source === 'old');
  if (old.length === 0) return false;
  const start = block * BLOCK_BYTES;
  return !(old.length === 1 && old[0]!.from === start && old[0]!.to === start + oldBlockBytes(block, prevLength));
}

/**
 * The block's new CRC. `oldCrc` is its current CRC; `oldBytes` (the block's
 * old content, verified by the caller) is required exactly when
 * needsOldBytes says so.
 */
export function blockCrc(
  block: number,
  segments: readonly Segment[],
  oldCrc: number,
  oldBytes: Buffer | undefined,
  data: Buffer | undefined,
  dataOffset: number,
): number {
  const start = block * BLOCK_BYTES;
  let crc = 0;
  for (const segment of segments) {
    switch (segment.source) {
      case 'data':
        assert(data !== undefined, 'a data segment without data');
        crc = crc32c(data.subarray(segment.from - dataOffset, segment.to - dataOffset), crc);
        break;
      case 'zero':
        crc = crc32cZeros(segment.to - segment.from, crc);
        break;
      case 'old':
        if (oldBytes === undefined) {
          // The whole old content, kept as a prefix: continue from its CRC.
          assert(segment.from === start && crc === 0, 'old bytes are needed to checksum this block');
          crc = oldCrc;
        } else {
          crc = crc32c(oldBytes.subarray(segment.from - start, segment.to - start), crc);
        }
        break;
    }
  }
  return crc;
}

/**
 * The in-memory CRCs of one replica plus which LevelDB groups changed since
 * they were last persisted.
 */
export class BlockChecksums {
  private crcs: Uint32Array;
  private count: number;
  private readonly dirtyGroups = new Set<number>();

  constructor(initial: Uint32Array = new Uint32Array(0)) {
    this.crcs = initial;
    this.count = initial.length;
  }

  /** Blocks that have a CRC (the highest set index + 1). */
  get blocks(): number {
    return this.count;
  }

  get(block: number): number {
    return block < this.count ? this.crcs[block]! : 0;
  }

  set(block: number, crc: number): void {
    if (block >= this.crcs.length) {
      const grown = new Uint32Array(Math.max(block + 1, this.crcs.length * 2, GROUP_BLOCKS));
      grown.set(this.crcs.subarray(0, this.count));
      this.crcs = grown;
    }
    this.crcs[block] = crc;
    if (block >= this.count) this.count = block + 1;
    this.dirtyGroups.add(Math.floor(block / GROUP_BLOCKS));
  }

  /** Drops the CRCs of blocks at and above `blocks`. */
  truncate(blocks: number): void {
    if (blocks >= this.count) return;
    this.crcs.fill(0, blocks, this.count);
    this.count = blocks;
    for (const group of this.dirtyGroups) if (group * GROUP_BLOCKS >= blocks) this.dirtyGroups.delete(group);
    // The group holding the new last block loses entries even when no CRC in it changes.
    if (blocks > 0) this.dirtyGroups.add(Math.floor((blocks - 1) / GROUP_BLOCKS));
  }

  /**
   * The changed groups of a replica `blocks` blocks long, encoded for
   * LevelDB (copies, so later changes do not leak into a pending batch), and
   * forgets that they changed.
   */
  takeDirty(blocks: number): Array<[group: number, value: Buffer]> {
    assert(blocks === this.count, `persisting ${blocks} blocks of checksums while ${this.count} exist`);
    const out: Array<[number, Buffer]> = [];
    for (const group of this.dirtyGroups) out.push([group, this.encodeGroup(group)]);
    this.dirtyGroups.clear();
    out.sort((a, b) => a[0] - b[0]);
    return out;
  }

  private encodeGroup(group: number): Buffer {
    const first = group * GROUP_BLOCKS;
    const n = Math.min(GROUP_BLOCKS, this.count - first);
    assert(n > 0, `group ${group} is beyond the last block`);
    const value = Buffer.allocUnsafe(n * 4);
    for (let i = 0; i < n; i++) value.writeUInt32LE(this.crcs[first + i]!, i * 4);
    return value;
  }
}

/**
 * Rebuilds a replica's CRCs from its persisted groups, or returns a reason
 * when a block below `blocks` has no CRC.
 */
export function decodeGroups(groups: ReadonlyMap<number, Buffer>, blocks: number): Uint32Array | string {
  const crcs = new Uint32Array(blocks);
  for (let group = 0; group < groupCount(blocks); group++) {
    const value = groups.get(group);
    const want = Math.min(GROUP_BLOCKS, blocks - group * GROUP_BLOCKS);
    if (value === undefined || value.length < want * 4) return `checksums of group ${group} are missing or short`;
    for (let i = 0; i < want; i++) crcs[group * GROUP_BLOCKS + i] = value.readUInt32LE(i * 4);
  }
  return crcs;
}
