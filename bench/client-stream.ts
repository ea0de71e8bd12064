import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DfsClient } from '../client-lib/index.js';

/** One random block, made before the clock starts and written over and over: making the data is not what is measured. */
export function dataBlock(): Buffer {
  return randomBytes(8 * 1024 * 1024);
}

/** Writes `bytes` to a new file `path` through the client library's write stream (`block` repeated), honouring its back-pressure. */
export async function writeThroughClient(client: DfsClient, path: string, bytes: number, block: Buffer): Promise<void> {
  const sink = await client.createWriteStream(path);
  for (let done = 0; done < bytes; done += block.length) {
    const piece = block.subarray(0, Math.min(block.length, bytes - done));
    if (!sink.write(piece)) await new Promise((r) => sink.once('drain', r));
  }
  await new Promise<void>((resolve, reject) => sink.end(() => resolve()).once('error', reject));
}

/** Reads `path` to its end through the client library's read stream, keeping nothing; fails unless exactly `bytes` came. */
export async function readThroughClient(client: DfsClient, path: string, bytes: number): Promise<void> {
  let readBytes = 0;
  await pipeline(
    await client.createReadStream(path),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        readBytes += chunk.length;
        callback();
      },
    }),
  );
  if (readBytes !== bytes) throw new Error(`read ${readBytes} bytes of ${bytes} from ${path}`);
}
