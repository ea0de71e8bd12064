import { execFile, execFileSync } from 'node:child_process';
import { open, rename, rm, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExitCleanup } from '../../common/exit-cleanup.js';
import type { TestCluster } from './test-cluster.js';

const run = promisify(execFile);
const FILLER = '.nemesis-filler';

/**
 * One chunkserver's data directory on a tmpfs of its own, so that the disk
 * can be filled for real without touching the machine's. Made once at
 * start-up: the server is killed, its (still nearly empty) directory moved
 * onto the tmpfs, and the caller restarts it.
 */
export class SmallDisk {
  private unmounted = false;

  private constructor(
    /** The chunkserver whose data directory it is. */
    readonly name: string,
    readonly dir: string,
  ) {}

  static async install(cluster: TestCluster, name: string, sizeBytes: number): Promise<SmallDisk> {
    const dir = cluster.process(name).dataDir;
    await cluster.killAndWait(name);
    const seed = `${dir}.seed`;
    await rename(dir, seed);
    await mkdir(dir);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
    const disk = new SmallDisk(name, dir);
    cleanup.track(disk);
    await run('cp', ['-a', `${seed}/.`, dir]);
    await rm(seed, { recursive: true, force: true });
    return disk;
  }

  /** Writes a filler file until the file system refuses (ENOSPC); returns the bytes it took. */
  async fill(): Promise<number> {
    const file = await open(join(this.dir, FILLER), 'a');
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    let written = 0;
    try {
      for (;;) {
        const { bytesWritten } = await file.write(block);
        written += bytesWritten;
        if (bytesWritten < block.length) break;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      // Fill the last partial block too: nothing may be left.
      for (let size = block.length >> 1; size >= 512; size >>= 1) {
        try {
          written += (await file.write(block.subarray(0, size))).bytesWritten;
        } catch (inner) {
          if ((inner as NodeJS.ErrnoException).code !== 'ENOSPC') throw inner;
        }
      }
    } finally {
      await file.close();
    }
    return written;
  }

  async free(): Promise<void> {
    try {
      await unlink(join(this.dir, FILLER));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Detaches the tmpfs at once (lazily: the server may still hold files there until it is stopped). */
  unmount(): void {
    if (this.unmounted) return;
    this.unmounted = true;
    cleanup.untrack(this);
    try {
      execFileSync('umount', ['-l', this.dir], { stdio: 'ignore' });
    } catch {
      // Already unmounted: nothing to do.
    }
  }
}

const cleanup = new ExitCleanup<SmallDisk>((disk) => disk.unmount());
