import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { DfsFile } from '../../../client-lib/dfs-file.js';
import { BufferPool } from '../../../common/buffer-pool.js';
import { InodeWriter } from '../../../fuse/inode-writer.js';

const KiB = 1024;

/** A file that keeps what writeQueued hands it, copied at once as the real one encodes packets, and settles later. */
function fakeFile(): { file: DfsFile; bytes: () => Buffer; committed: number[] } {
  const stored = Buffer.alloc(4 * 1024 * KiB);
  let end = 0;
  const committed: number[] = [];
  const file = {
    writeQueued: async (offset: number, data: Buffer) => {
      data.copy(stored, offset);
      end = Math.max(end, offset + data.length);
      await new Promise((resolve) => setTimeout(resolve, 1));
    },
    commitData: async (size: number) => void committed.push(size),
    truncate: async () => undefined,
  };
  return { file: file as unknown as DfsFile, bytes: () => stored.subarray(0, end), committed };
}

describe('InodeWriter: write-back of one inode on the mount', () => {
  it('gathers writes into packets from a shared pool, and every buffer goes back once its bytes are out', async () => {
    const pool = new BufferPool(64 * KiB, 4);
    const { file, bytes, committed } = fakeFile();
    const writer = new InodeWriter(file, { gatherBytes: 64 * KiB, inFlightMaxBytes: 256 * KiB, now: () => 1, buffers: pool });
    const data = randomBytes(1000 * KiB + 123);
    for (let at = 0; at < data.length; at += 24 * KiB) await writer.write(at, data.subarray(at, at + 24 * KiB));
    await writer.sync();
    expect(bytes().equals(data), 'every byte as written, though buffers were reused').to.equal(true);
    expect(committed).to.deep.equal([data.length]);
    expect(pool.idle, 'buffers came back to the pool').to.be.greaterThan(0);
    expect(writer.dirty).to.equal(false);
  });

  it('takes a one-off buffer for a write larger than a packet, and does not keep it', async () => {
    const pool = new BufferPool(16 * KiB, 4);
    const { file, bytes } = fakeFile();
    const writer = new InodeWriter(file, { gatherBytes: 16 * KiB, inFlightMaxBytes: 256 * KiB, now: () => 1, buffers: pool });
    const data = randomBytes(40 * KiB);
    await writer.write(0, data);
    await writer.sync();
    expect(bytes().equals(data)).to.equal(true);
    expect(pool.idle).to.equal(0);
  });
});
