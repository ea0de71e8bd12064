import type { FileAttr } from '../client-lib/types.js';

const ENTRIES_MAX = 4_096;

/**
 * Directory attributes that this mount's own namespace changes just got back
 * from the master. The kernel drops a directory's cached attributes after
 * every change made in it, and with default_permissions it needs them again
 * for the very next lookup or create there: without these, every create or
 * unlink costs a second round trip to the master, a getattr whose answer the
 * change's reply already carried.
 *
 * Each entry answers one getattr, within the attribute timeout (the staleness
 * the kernel's own cache would allow). Of two replies for one directory the
 * later change (by ctime) wins; a tie that disagrees drops the entry, and so
 * does any change whose reply carries no directory attributes (`forget`, or
 * `clear` for a rename, which may move a directory).
 */
export class FreshDirectories {
  private readonly dirs = new Map<number, { attr: FileAttr; atMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  note(attr: FileAttr | undefined): void {
    if (attr === undefined || this.ttlMs <= 0) return;
    const held = this.dirs.get(attr.inode);
    if (held !== undefined) {
      if (held.attr.ctimeMs > attr.ctimeMs) return;
      if (held.attr.ctimeMs === attr.ctimeMs && !sameAttr(held.attr, attr)) {
        this.dirs.delete(attr.inode);
        return;
      }
    }
    if (this.dirs.size >= ENTRIES_MAX) this.dirs.clear();
    this.dirs.set(attr.inode, { attr, atMs: this.now() });
  }

  forget(inode: number): void {
    this.dirs.delete(inode);
  }

  clear(): void {
    this.dirs.clear();
  }

  /** The attributes for one getattr of `inode`, if a change here returned them recently enough. */
  take(inode: number): FileAttr | undefined {
    const held = this.dirs.get(inode);
    if (held === undefined) return undefined;
    this.dirs.delete(inode);
    return this.now() - held.atMs < this.ttlMs ? held.attr : undefined;
  }
}

function sameAttr(a: FileAttr, b: FileAttr): boolean {
  return (Object.keys(a) as (keyof FileAttr)[]).every((k) => a[k] === b[k]);
}
