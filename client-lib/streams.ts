import { Readable, Writable } from 'node:stream';
import type { ByteParts } from '../common/byte-parts.js';
import { LIMITS } from '../common/limits.js';
import type { DfsFile } from './dfs-file.js';

/** Bytes a read stream asks for at once; the next block is fetched while this one is consumed. */
const READ_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * A Readable over [start, end) of a file (end defaults to its size when the
 * stream starts), reading one block ahead.
 */
export function createReadStream(file: DfsFile, options: { start?: number; end?: number; onClose?: () => Promise<void> } = {}): Readable {
  let position = options.start ?? 0;
  let end = options.end;
  let ahead: Promise<ByteParts> | undefined;
  const fetch = (): Promise<ByteParts> | undefined => {
    if (position >= end!) return undefined;
    const n = Math.min(READ_BLOCK_BYTES, end! - position);
    // Frames are pushed as they came: joining them would copy every byte once more.
    const block = file.readParts(position, n);
    position += n;
    block.catch(() => undefined);
    return block;
  };
  return new Readable({
    highWaterMark: READ_BLOCK_BYTES,
    read() {
      void (async () => {
        try {
          if (end === undefined) end = (await file.refresh()).size;
          const current = ahead ?? fetch();
          ahead = undefined;
          if (current === undefined) {
            this.push(null);
            return;
          }
          const parts = await current;
          ahead = fetch();
          if (parts.length === 0) {
            this.push(null);
            return;
          }
          for (const part of parts) this.push(part);
        } catch (err) {
          this.destroy(err as Error);
        }
      })();
    },
    destroy(err, callback) {
      (options.onClose?.() ?? Promise.resolve()).then(() => callback(err), () => callback(err));
    },
  });
}

/**
 * A Writable that writes sequentially from `start`. Bytes are gathered into
 * packets aligned to the chunk's checksum blocks and streamed down the
 * pipeline without waiting for each one; 'finish' fires only once every
 * byte is durable on every replica and the size is committed.
 */
export function createWriteStream(file: DfsFile, options: { start?: number; onClose?: () => Promise<void> } = {}): Writable {
  let position = options.start ?? 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const packet = LIMITS.dataPacketMaxBytes;
  const emit = async (all: boolean) => {
    while (pendingBytes >= packet || (all && pendingBytes > 0)) {
      const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      // Keep packets on packet boundaries of the file, so that chunk
      // boundaries and checksum blocks line up with them.
      const n = Math.min(joined.length, packet - (position % packet));
      await file.writeQueued(position, joined.subarray(0, n));
      position += n;
      const rest = joined.subarray(n);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  };
  return new Writable({
    highWaterMark: packet,
    write(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      emit(false).then(() => callback(), callback);
    },
    final(callback) {
      emit(true)
        .then(() => file.flush(position))
        .then(() => options.onClose?.())
        .then(() => callback(), callback);
    },
    destroy(err, callback) {
      if (err === null) return callback(null);
      (options.onClose?.() ?? Promise.resolve()).then(() => callback(err), () => callback(err));
    },
  });
}
