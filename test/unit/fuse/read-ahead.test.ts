import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { ByteParts } from '../../../common/byte-parts.js';
import { ReadAhead } from '../../../fuse/read-ahead.js';

const KiB = 1024;
const FRAME = 64 * KiB;

/** A file of `bytes` whose reads come back in frames of FRAME bytes from the offset asked, as Read calls do. */
interface FakeFile {
  reads: [number, number][];
  /** Whether reads of a whole segment fail (a prefetch), while others succeed. */
  failSegments: boolean;
  read(offset: number, length: number): Promise<ByteParts>;
}

function fileOf(bytes: Buffer): FakeFile {
  const file: FakeFile = {
    reads: [],
    failSegments: false,
    read: async (offset, length) => {
      file.reads.push([offset, length]);
      if (file.failSegments && length === 4 * FRAME) throw new Error(`read at ${offset} failed`);
      const parts: Buffer[] = [];
      const end = Math.min(bytes.length, offset + length);
      for (let at = offset; at < end; at += FRAME) parts.push(bytes.subarray(at, Math.min(end, at + FRAME)));
      return parts;
    },
  };
  return file;
}

describe('ReadAhead: a sequential reader served from segments fetched ahead', () => {
  const options = { segmentBytes: 4 * FRAME, segmentsAhead: 2 };

  it('serves a sequential reader the file, in segments fetched ahead, each read once', async () => {
    const bytes = randomBytes(20 * FRAME + 1000);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    const got: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 48 * KiB) got.push(await ra.read(at, 48 * KiB));
    expect(Buffer.concat(got).equals(bytes)).to.equal(true);
    const starts = file.reads.map(([offset]) => offset);
    expect(new Set(starts).size, 'no segment fetched twice').to.equal(starts.length);
    // The first read has nothing to follow and goes to the file as asked; segments follow it.
    expect(file.reads[0]).to.deep.equal([0, 48 * KiB]);
    expect(file.reads.slice(1).every(([offset, length]) => (offset - 48 * KiB) % options.segmentBytes === 0 && length === options.segmentBytes)).to.equal(true);
  });

  it('answers a read within one frame with a view of it, and joins only a read that spans frames', async () => {
    const bytes = randomBytes(8 * FRAME);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    const first = await ra.read(0, FRAME);
    expect(first.equals(bytes.subarray(0, FRAME))).to.equal(true);
    expect(first.buffer, 'a view of the frame').to.equal(bytes.buffer);
    const spanning = await ra.read(FRAME, FRAME + 10);
    expect(spanning.equals(bytes.subarray(FRAME, 2 * FRAME + 10))).to.equal(true);
    expect(spanning.buffer, 'a copy').to.not.equal(bytes.buffer);
  });

  it('stops at the end of the file as a short segment found it', async () => {
    const bytes = randomBytes(5 * FRAME + 7);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    await ra.read(0, 4 * FRAME);
    const tail = await ra.read(4 * FRAME, 4 * FRAME);
    expect(tail.equals(bytes.subarray(4 * FRAME))).to.equal(true);
    expect((await ra.read(5 * FRAME + 7, FRAME)).length).to.equal(0);
  });

  it('serves a read that does not follow the last one directly', async () => {
    const bytes = randomBytes(16 * FRAME);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    await ra.read(0, FRAME);
    const jumped = await ra.read(10 * FRAME + 5, 100);
    expect(jumped.equals(bytes.subarray(10 * FRAME + 5, 10 * FRAME + 105))).to.equal(true);
    expect(file.reads.at(-1)).to.deep.equal([10 * FRAME + 5, 100]);
  });

  it('serves a read whose segment failed directly, as its own read', async () => {
    const bytes = randomBytes(16 * FRAME);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    await ra.read(0, FRAME);
    file.failSegments = true;
    const got = await ra.read(FRAME, FRAME);
    expect(got.equals(bytes.subarray(FRAME, 2 * FRAME))).to.equal(true);
    expect(file.reads.at(-1), 'the direct read').to.deep.equal([FRAME, FRAME]);
  });

  it('fetches nothing past the end a short segment found, and asks afresh for a read there (the file may have grown)', async () => {
    const bytes = randomBytes(6 * FRAME);
    const file = fileOf(bytes);
    const ra = new ReadAhead((o, l) => file.read(o, l), options);
    for (let at = 0; at < 6 * FRAME; at += FRAME) await ra.read(at, FRAME);
    const fetched = file.reads.length;
    const starts = file.reads.map(([offset]) => offset);
    // Segments fetched ahead before the end was known are fetched once, and none after.
    expect(new Set(starts).size, 'no segment fetched twice').to.equal(starts.length);
    expect(starts.filter((offset) => offset >= 6 * FRAME)).to.have.length.at.most(options.segmentsAhead);
    expect((await ra.read(6 * FRAME, FRAME)).length).to.equal(0);
    expect(file.reads.length, 'the read at the end went to the file').to.equal(fetched + 1);
  });
});
