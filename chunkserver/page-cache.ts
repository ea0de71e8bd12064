import { createRequire } from 'node:module';

/** The fadvise addon (a CommonJS native binding of posix_fadvise(2)); its index stands in a no-op when the addon did not build. */
interface FadviseAddon {
  posix_fadvise(fd: number, offset: number, length: number, advice: number): number;
  readonly POSIX_FADV_DONTNEED: number;
  readonly failed_to_load?: boolean;
}

const addon = createRequire(import.meta.url)('fadvise') as FadviseAddon;

/** Whether this process can ask the kernel to drop cached pages (the addon was built and loaded). */
export const pageCacheControl: boolean = addon.failed_to_load !== true;

const PAGE_BYTES = 4096;

/**
 * Asks the kernel to drop the file's clean cached pages below `length`,
 * rounded down to a whole page: the partial last page stays, so the next
 * append fills it without reading it back from disk. Dirty pages are not
 * dropped (the kernel starts writing them back instead), so callers drop
 * what an fdatasync has just made clean. Returns posix_fadvise's error
 * number, 0 on success; the advice never changes a file's contents.
 */
export function dropCachedPages(fd: number, length: number): number {
  const whole = Math.floor(length / PAGE_BYTES) * PAGE_BYTES;
  if (whole === 0) return 0;
  return addon.posix_fadvise(fd, 0, whole, addon.POSIX_FADV_DONTNEED);
}
