import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assert } from '../common/assert.js';
import type { ChunkHandle } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import { dropCachedPages, pageCacheControl } from './page-cache.js';

/**
 * Chunk replica files: where they live, an LRU of open descriptors, and
 * whole-buffer reads and writes.
 *
 * A path is built from the numeric handle only, so nothing a peer sends can
 * name a file. The directory is the handle's low byte: handles are allocated
 * in sequence, so consecutive chunks land in different directories.
 */
const HANDLE_HEX_DIGITS = 16;
const FILE_NAME = /^([0-9a-f]{16})\.chunk$/;
const DIR_NAME = /^[0-9a-f]{2}$/;

export function handleHex(handle: ChunkHandle): string {
  assert(Number.isSafeInteger(handle) && handle >= 0, `chunk handle is not a safe non-negative integer: ${String(handle)}`);
  return handle.toString(16).padStart(HANDLE_HEX_DIGITS, '0');
}

export function chunksRoot(dir: string): string {
  return join(dir, 'chunks');
}

/** `<dir>/chunks/<low byte as 2 hex digits>/<handle as 16 hex digits>.chunk` */
export function chunkPath(dir: string, handle: ChunkHandle): string {
  const hex = handleHex(handle);
  return join(chunksRoot(dir), hex.slice(-2), `${hex}.chunk`);
}

/** Reads `length` bytes at `position`; bytes past the end of the file read as zeros (a padded tail is never written out). */
export async function readFull(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      buffer.fill(0, done);
      break;
    }
    done += bytesRead;
  }
  return buffer;
}

export async function writeFull(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

export async function syncDirectory(path: string): Promise<void> {
  const dir = await fs.open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

interface OpenFile {
  readonly file: Promise<FileHandle>;
  /** Operations using the descriptor now: an entry in use is never closed. */
  users: number;
}

export class ChunkFiles {
  /** Insertion order is recency: the first entry is the least recently used. */
  private readonly open = new Map<ChunkHandle, OpenFile>();
  private readonly closing = new Set<Promise<void>>();
  /** Whether each sync drops what it made clean (see syncData): asked for, and the fadvise addon loaded. */
  readonly dropsBehind: boolean;

  constructor(
    private readonly dir: string,
    private readonly openFilesMax: number,
    private readonly logger: Logger,
    dropBehind: boolean,
  ) {
    assert(Number.isSafeInteger(openFilesMax) && openFilesMax > 0, `openFilesMax must be a positive integer: ${openFilesMax}`);
    this.dropsBehind = dropBehind && pageCacheControl;
  }

  /**
   * fdatasync; then, with drop-behind, the file's pages below `length` (the
   * bytes that sync covered) leave the page cache. A stream of writes then
   * keeps reusing the few pages just freed instead of filling memory with
   * fresh ones, each of which the kernel must find, and on a virtual machine
   * the host must back, before copying into it (README, "Where the time
   * goes": 2.5 to 3 kernel cpu-s per GiB written against 0.3 to 0.6).
   * Each call drops from the file's start, not from where the last one
   * stopped: an overwrite below that point would otherwise stay cached, and
   * pages already gone cost the kernel little to skip.
   */
  async syncData(file: FileHandle, length: number): Promise<void> {
    await file.datasync();
    if (!this.dropsBehind) return;
    const errno = dropCachedPages(file.fd, length);
    if (errno !== 0) this.logger.warn({ errno, length }, 'posix_fadvise(DONTNEED) failed after a sync; the pages stay cached');
  }

  /** Creates the 256 chunk directories, so that creating a chunk only has to sync its own directory. */
  async prepare(): Promise<void> {
    await fs.mkdir(chunksRoot(this.dir), { recursive: true });
    for (let i = 0; i < 256; i++) await fs.mkdir(join(chunksRoot(this.dir), i.toString(16).padStart(2, '0')), { recursive: true });
    await syncDirectory(chunksRoot(this.dir));
  }

  /** Every chunk file on disk with its size. Anything else under chunks/ is logged and left alone. */
  async scan(): Promise<Map<ChunkHandle, number>> {
    const found = new Map<ChunkHandle, number>();
    for (const dirEntry of await fs.readdir(chunksRoot(this.dir), { withFileTypes: true })) {
      if (!dirEntry.isDirectory() || !DIR_NAME.test(dirEntry.name)) {
        this.logger.warn({ name: dirEntry.name }, 'unexpected entry in the chunks directory, left alone');
        continue;
      }
      const sub = join(chunksRoot(this.dir), dirEntry.name);
      for (const name of await fs.readdir(sub)) {
        const match = FILE_NAME.exec(name);
        const handle = match === null ? undefined : Number.parseInt(match[1]!, 16);
        if (handle === undefined || !Number.isSafeInteger(handle) || chunkPath(this.dir, handle as ChunkHandle) !== join(sub, name)) {
          this.logger.warn({ path: join(sub, name) }, 'unexpected file in a chunk directory, left alone');
          continue;
        }
        found.set(handle as ChunkHandle, (await fs.stat(join(sub, name))).size);
      }
    }
    return found;
  }

  /** Creates an empty chunk file, durably (the directory entry is synced), and keeps it open. */
  async create(handle: ChunkHandle): Promise<void> {
    assert(!this.open.has(handle), `chunk ${handle} is open while being created`);
    const path = chunkPath(this.dir, handle);
    const file = await fs.open(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
    try {
      await syncDirectory(dirname(path));
    } catch (err) {
      await file.close();
      await fs.unlink(path);
      throw err;
    }
    this.open.set(handle, { file: Promise.resolve(file), users: 0 });
    this.evict();
  }

  /** Runs `fn` with the chunk's descriptor, opening it if needed; the descriptor stays open for the next caller. */
  async use<T>(handle: ChunkHandle, fn: (file: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.open.get(handle);
    if (entry === undefined) {
      entry = { file: fs.open(chunkPath(this.dir, handle), 'r+'), users: 0 };
      this.open.set(handle, entry);
    } else {
      this.open.delete(handle);
      this.open.set(handle, entry);
    }
    entry.users++;
    try {
      let file: FileHandle;
      try {
        file = await entry.file;
      } catch (err) {
        if (this.open.get(handle) === entry) this.open.delete(handle);
        throw err;
      }
      return await fn(file);
    } finally {
      entry.users--;
      this.evict();
    }
  }

  /** Closes the chunk's descriptor (no operation may be using it) and removes the file; a missing file is not an error. */
  async remove(handle: ChunkHandle): Promise<void> {
    const entry = this.open.get(handle);
    if (entry !== undefined) {
      assert(entry.users === 0, `chunk ${handle} is removed while in use`);
      this.open.delete(handle);
      await this.closeEntry(handle, entry);
    }
    try {
      await fs.unlink(chunkPath(this.dir, handle));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }

  /** Open descriptors (for tests of the LRU bound). */
  get openCount(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    for (const [handle, entry] of this.open) {
      assert(entry.users === 0, `chunk ${handle} is still in use at close`);
      this.open.delete(handle);
      this.track(handle, entry);
    }
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  private evict(): void {
    for (const [handle, entry] of this.open) {
      if (this.open.size <= this.openFilesMax) return;
      if (entry.users > 0) continue;
      this.open.delete(handle);
      this.track(handle, entry);
    }
  }

  private track(handle: ChunkHandle, entry: OpenFile): void {
    const closing = this.closeEntry(handle, entry).finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  /** Never rejects: a failed close loses nothing that a sync has not already made durable, so it is logged. */
  private async closeEntry(handle: ChunkHandle, entry: OpenFile): Promise<void> {
    try {
      await (await entry.file).close();
    } catch (err) {
      this.logger.warn({ err, handle }, 'closing a chunk file failed');
    }
  }
}
