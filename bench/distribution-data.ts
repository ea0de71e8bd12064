import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/** Bytes generated per block: big enough that the cipher runs at full speed, small enough to stream. */
const BLOCK_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(BLOCK_BYTES);

/**
 * Random-looking bytes that anyone holding the seed can produce again: the
 * AES-256-CTR keystream of a random key. The origin writes them, and the
 * benchmark computes the hash every reader must see without keeping the
 * file (up to a few GiB) in memory or trusting the file system to echo it.
 */
export type DataSeed = string;

export function newSeed(): DataSeed {
  return randomBytes(48).toString('hex');
}

/** The first `bytes` bytes of the stream of `seed`, in blocks. */
export function* dataBlocks(seed: DataSeed, bytes: number): Generator<Buffer> {
  const raw = Buffer.from(seed, 'hex');
  const cipher = createCipheriv('aes-256-ctr', raw.subarray(0, 32), raw.subarray(32, 48));
  for (let left = bytes; left > 0; left -= BLOCK_BYTES) {
    yield cipher.update(left >= BLOCK_BYTES ? ZEROS : ZEROS.subarray(0, left));
  }
}

export function dataStream(seed: DataSeed, bytes: number): Readable {
  return Readable.from(dataBlocks(seed, bytes), { objectMode: false });
}

/** sha256 of the streams of `parts` laid end to end: what a file written from them must hash to. */
export function expectedSha256(parts: readonly { seed: DataSeed; bytes: number }[]): string {
  const hash = createHash('sha256');
  for (const part of parts) for (const block of dataBlocks(part.seed, part.bytes)) hash.update(block);
  return hash.digest('hex');
}
