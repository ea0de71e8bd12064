/**
 * Linux's mode-bit check (generic_permission, without ACLs or capabilities
 * but root's), shared by the master, which enforces it, and the client
 * library, which checks before it changes chunk data that the master would
 * then refuse to account for.
 */

/** Who asks: Linux's fsuid, fsgid and supplementary groups. uid 0 is root. */
export interface AccessCaller {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

/** What the check looks at in an inode. */
export interface AccessTarget {
  readonly kind: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/** in_group_p: the caller's group or one of its supplementary groups. */
export function inGroup(caller: AccessCaller, gid: number): boolean {
  return caller.gid === gid || caller.groups.includes(gid);
}

/**
 * The owner's bits if the caller owns the inode, else the group's if it is
 * in the inode's group, else the others'; all of `mask` must be granted.
 * Root may read and write anything and search any directory, but executes
 * a non-directory only if some x bit is set.
 */
export function permits(inode: AccessTarget, caller: AccessCaller, mask: number): boolean {
  if (caller.uid === 0) return (mask & MAY_EXEC) === 0 || inode.kind === 'directory' || (inode.mode & 0o111) !== 0;
  const shift = caller.uid === inode.uid ? 6 : inGroup(caller, inode.gid) ? 3 : 0;
  return ((inode.mode >> shift) & mask) === mask;
}
