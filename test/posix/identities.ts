/**
 * The users that POSIX cases run as, and the symbolic roles that observations
 * report instead of numeric ids. Cases name roles only, so that a case reads
 * "user-b cannot unlink user-a's file" and results compare across machines.
 *
 * The ids need no /etc/passwd entries: setpriv switches to bare numbers.
 */

export const WHO = ['root', 'user-a', 'user-b', 'nobody'] as const;
export type Who = (typeof WHO)[number];

export const GROUP_ROLES = ['root', 'group-a', 'group-b', 'group-extra', 'nogroup'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (beyond the primary gid). */
  readonly groups: readonly number[];
}

/**
 * user-a is also a member of group-extra (a supplementary group), so that
 * "chgrp by the owner to a group they are in" and setgid-directory cases
 * have a group that is not user-a's primary one. user-b and nobody have no
 * supplementary groups: they are the "group" and "other" classes.
 */
export const IDENTITIES: Readonly<Record<Who, Identity>> = {
  root: { uid: 0, gid: 0, groups: [] },
  'user-a': { uid: 1000, gid: 1000, groups: [3000] },
  'user-b': { uid: 1001, gid: 1001, groups: [] },
  nobody: { uid: 65534, gid: 65534, groups: [] },
};

export const GROUP_IDS: Readonly<Record<GroupRole, number>> = {
  root: 0,
  'group-a': 1000,
  'group-b': 1001,
  'group-extra': 3000,
  nogroup: 65534,
};

/** The uid as a role name; an id no case uses shows as `uid:N` (and will not match a role). */
export function userRole(uid: number): string {
  for (const who of WHO) if (IDENTITIES[who].uid === uid) return who;
  return `uid:${uid}`;
}

export function groupRole(gid: number): string {
  for (const role of GROUP_ROLES) if (GROUP_IDS[role] === gid) return role;
  return `gid:${gid}`;
}

/**
 * The command prefix that runs a program as `who`. Root runs directly; the
 * others go through setpriv, which drops every capability with the uid change
 * (no SECBIT_KEEP_CAPS), so the child has exactly an ordinary user's rights.
 */
export function runAsPrefix(who: Who): string[] {
  if (who === 'root') return [];
  const id = IDENTITIES[who];
  const groups = id.groups.length > 0 ? [`--groups=${id.groups.join(',')}`] : ['--clear-groups'];
  return ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, ...groups, '--'];
}
