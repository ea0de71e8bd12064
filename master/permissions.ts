import { type AccessCaller, inGroup, MAY_EXEC, MAY_READ, MAY_WRITE, permits } from '../common/access.js';
import { DfsError } from '../common/errors.js';
import type { InodeKind } from './attr.js';

export { inGroup, MAY_EXEC, MAY_READ, MAY_WRITE, permits };

/**
 * Linux's permission rules for one caller, as fs/namei.c, fs/attr.c,
 * fs/inode.c and fs/open.c apply them (kernel 6.x, no ACLs, no
 * capabilities but root's, no idmapped mounts). Pure: the namespace hands in
 * the inodes' modes and owners, these decide.
 *
 * Errors: PERMISSION_DENIED (EACCES) when a mode bit is missing,
 * NOT_PERMITTED (EPERM) when an ownership rule forbids it whatever the mode.
 */

/** Who asks: Linux's fsuid, fsgid and supplementary groups. uid 0 is root (every capability). */
export type Caller = AccessCaller;

/** What the rules look at in an inode (generic_permission itself is common/access.ts). */
export interface Owned {
  readonly kind: InodeKind;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
const S_IXGRP = 0o010;

export function isRoot(caller: Caller): boolean {
  return caller.uid === 0;
}

export function requirePermission(inode: Owned, caller: Caller, mask: number, what: string): void {
  if (!permits(inode, caller, mask)) throw new DfsError('PERMISSION_DENIED', `permission denied: ${describeMask(mask)} on ${what}`);
}

/** inode_owner_or_capable: the owner, or root. */
export function ownsOrRoot(inode: Owned, caller: Caller): boolean {
  return isRoot(caller) || caller.uid === inode.uid;
}

/**
 * may_delete's sticky check (check_sticky): in a directory with S_ISVTX only
 * the entry's owner, the directory's owner or root may remove or replace an
 * entry. Permission on the directory itself is checked apart.
 */
export function requireStickyAllows(dir: Owned, victim: Owned, caller: Caller, what: string): void {
  if ((dir.mode & S_ISVTX) === 0 || isRoot(caller) || caller.uid === victim.uid || caller.uid === dir.uid) return;
  throw new DfsError('NOT_PERMITTED', `${what}: the directory is sticky and the caller owns neither the entry nor the directory`);
}

/** What a new inode gets: its owner, group and final mode. */
export interface NewOwnership {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * The owner of a new inode (inode_init_owner, with vfs_prepare_mode): the
 * caller, and the caller's group unless the parent directory is set-group-ID,
 * in which case the parent's group (and a new directory inherits S_ISGID).
 * mkdir(2) ignores S_ISUID and S_ISGID in the mode asked for; a non-directory
 * made in a set-group-ID directory by a caller outside its group loses
 * S_ISGID when it is group-executable (mode_strip_sgid).
 *
 * Our extension: a nonzero `requestedUid` (`requestedGid`) names another
 * owner (group), which is allowed exactly when a chown (chgrp) by the caller
 * right after would be (root; a group the caller belongs to). It lets a
 * root process create files for others in one atomic step.
 */
export function newOwnership(
  parent: Owned,
  caller: Caller,
  kind: InodeKind,
  mode: number,
  requestedUid: number,
  requestedGid: number,
  what: string,
): NewOwnership {
  const setgidParent = (parent.mode & S_ISGID) !== 0;
  let gid = setgidParent ? parent.gid : caller.gid;
  let finalMode = mode;
  if (kind === 'directory') {
    finalMode &= ~(S_ISUID | S_ISGID);
    if (setgidParent) finalMode |= S_ISGID;
  } else if (setgidParent && (finalMode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && !isRoot(caller) && !inGroup(caller, parent.gid)) {
    finalMode &= ~S_ISGID;
  }
  let uid = caller.uid;
  if (requestedUid !== 0 && requestedUid !== caller.uid) {
    if (!isRoot(caller)) throw new DfsError('NOT_PERMITTED', `${what}: only root may create an entry owned by another user`);
    uid = requestedUid;
  }
  if (requestedGid !== 0 && requestedGid !== gid) {
    if (!isRoot(caller) && !inGroup(caller, requestedGid)) throw new DfsError('NOT_PERMITTED', `${what}: the caller is not in group ${requestedGid}`);
    gid = requestedGid;
  }
  return { uid, gid, mode: finalMode };
}

/** What a setattr asks for; undefined leaves a field alone. */
export interface OwnershipChange {
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

/**
 * setattr_prepare and chown_common for a chmod and/or chown by `caller`;
 * returns the mode the inode ends with (undefined: unchanged). Throws
 * NOT_PERMITTED as Linux refuses:
 * - chown (uid): root only, but an owner may "change" it to itself;
 * - chgrp (gid): root, or the owner to its own group or one it belongs to;
 * - chmod: the owner or root. A non-root caller outside the file's group
 *   (the new group, if this also changes it) loses S_ISGID.
 *
 * Applied as chmod first, then chown: a chown or chgrp of a non-directory
 * clears S_ISUID, even by root, and S_ISGID when it is group-executable or
 * when the caller is neither root nor in the inode's group
 * (setattr_should_drop_sgid); a directory keeps both.
 */
export function changedMode(inode: Owned, caller: Caller, change: OwnershipChange, what: string): number | undefined {
  const root = isRoot(caller);
  const owner = caller.uid === inode.uid;
  if (change.uid !== undefined && !root && !(owner && change.uid === inode.uid)) {
    throw new DfsError('NOT_PERMITTED', `${what}: only root may change the owner`);
  }
  if (change.gid !== undefined && !root && !(owner && (change.gid === inode.gid || inGroup(caller, change.gid)))) {
    throw new DfsError('NOT_PERMITTED', `${what}: only the owner may change the group, and only to a group it is in`);
  }
  let mode: number | undefined;
  if (change.mode !== undefined) {
    if (!ownsOrRoot(inode, caller)) throw new DfsError('NOT_PERMITTED', `${what}: only the owner may change the mode`);
    mode = change.mode;
    if (!root && !inGroup(caller, change.gid ?? inode.gid)) mode &= ~S_ISGID;
  }
  if ((change.uid !== undefined || change.gid !== undefined) && inode.kind !== 'directory') {
    const current = mode ?? inode.mode;
    let kept = current & ~S_ISUID;
    if ((current & S_ISGID) !== 0 && ((current & S_IXGRP) !== 0 || !(root || inGroup(caller, inode.gid)))) kept &= ~S_ISGID;
    if (kept !== current) mode = kept;
  }
  return mode;
}

/** How a setattr sets a time: to a given value, or to the time it applies (UTIME_NOW). */
export type TimeChange = number | 'now' | undefined;

/**
 * vfs_utimes and setattr_prepare: setting both times to "now" (utimes with
 * NULL times, or both UTIME_NOW: ATTR_TOUCH) needs ownership, root or write
 * permission (PERMISSION_DENIED); any other time change, an explicit time
 * or one "now" beside an omitted time (ATTR_TIMES_SET), needs ownership or
 * root (NOT_PERMITTED).
 */
export function requireTimesAllowed(inode: Owned, caller: Caller, atime: TimeChange, mtime: TimeChange, what: string): void {
  if (atime === undefined && mtime === undefined) return;
  if (ownsOrRoot(inode, caller)) return;
  if (atime === 'now' && mtime === 'now') {
    requirePermission(inode, caller, MAY_WRITE, what);
    return;
  }
  throw new DfsError('NOT_PERMITTED', `${what}: only the owner may set explicit times`);
}

/**
 * file_remove_privs (should_remove_suid) on a write or truncate of a regular
 * file by a caller other than root: S_ISUID goes, and S_ISGID when it is
 * group-executable or the caller is not in the file's group. Returns the
 * mode the file ends with.
 */
export function modeAfterWrite(inode: Owned, caller: Caller): number {
  if (inode.kind !== 'file' || isRoot(caller)) return inode.mode;
  let mode = inode.mode & ~S_ISUID;
  if ((mode & S_ISGID) !== 0 && ((mode & S_IXGRP) !== 0 || !inGroup(caller, inode.gid))) mode &= ~S_ISGID;
  return mode;
}

function describeMask(mask: number): string {
  const parts: string[] = [];
  if (mask & MAY_READ) parts.push('read');
  if (mask & MAY_WRITE) parts.push('write');
  if (mask & MAY_EXEC) parts.push('search/execute');
  return parts.join('+');
}
