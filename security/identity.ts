import type { AccessCaller } from '../common/access.js';
import { DfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';

/**
 * What a certificate or a token says its holder is. The role decides which
 * services it may call (access-policy.ts); the ids are what the master checks
 * POSIX permissions with, whatever a request claims.
 */
export const ROLES = ['master', 'chunkserver', 'admin', 'mount', 'user'] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  /** The certificate's subject CN or the token's subject: for logs and errors. */
  readonly name: string;
  readonly role: Role;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The permission check's view of an identity. */
export function callerOf(identity: Identity): AccessCaller {
  return { uid: identity.uid, gid: identity.gid, groups: identity.groups };
}

/** A mount serves many local users, so it alone may name the caller a request acts for (as HDFS's proxy users). */
export function speaksForOthers(identity: Identity): boolean {
  return identity.role === 'mount';
}

const UINT32_MAX = 0xffffffff;
const NAME_MAX = 128;

/** Checks an identity's fields; throws INVALID_ARGUMENT naming what is wrong. */
export function checkIdentity(identity: Identity): Identity {
  const id = (value: number, what: string): void => {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new DfsError('INVALID_ARGUMENT', `${what} must be a uint32, not ${value}`);
  };
  if (typeof identity.name !== 'string' || identity.name === '' || identity.name.length > NAME_MAX || /[\0-\x1f,=]/.test(identity.name)) {
    throw new DfsError('INVALID_ARGUMENT', `an identity's name is 1 to ${NAME_MAX} printable characters without ',' or '='`);
  }
  if (!isRole(identity.role)) throw new DfsError('INVALID_ARGUMENT', `role must be one of ${ROLES.join(', ')}, not ${String(identity.role)}`);
  id(identity.uid, 'uid');
  id(identity.gid, 'gid');
  if (!Array.isArray(identity.groups) || identity.groups.length > LIMITS.callerGroupsMax) {
    throw new DfsError('INVALID_ARGUMENT', `an identity has at most ${LIMITS.callerGroupsMax} groups`);
  }
  for (const g of identity.groups) id(g, 'group');
  return identity;
}

/*
 * In a certificate the identity is its subject CN and URIs in its
 * subjectAltName: urn:dfs:role:R, urn:dfs:uid:N, urn:dfs:gid:N and one
 * urn:dfs:group:N per supplementary group.
 */
const URN = 'urn:dfs:';

export function identityUris(identity: Identity): string[] {
  return [
    `${URN}role:${identity.role}`,
    `${URN}uid:${identity.uid}`,
    `${URN}gid:${identity.gid}`,
    ...identity.groups.map((g) => `${URN}group:${g}`),
  ];
}

/** A subject's CN as Node gives it: an array when the subject has several. */
export function commonName(cn: string | string[] | undefined): string | undefined {
  return Array.isArray(cn) ? undefined : cn;
}

/**
 * The identity a verified peer certificate names: `subjectAltName` as Node
 * prints it ("URI:urn:dfs:role:user, IP Address:10.0.0.1"). Throws
 * UNAUTHENTICATED for a certificate our CA signed without one.
 */
export function identityFromCertificate(commonName: string | undefined, subjectAltName: string | undefined): Identity {
  let role: string | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  const groups: number[] = [];
  for (const entry of (subjectAltName ?? '').split(', ')) {
    if (!entry.startsWith(`URI:${URN}`)) continue;
    const [key, value = ''] = entry.slice(`URI:${URN}`.length).split(':', 2);
    const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
    if (key === 'role') role = value;
    else if (key === 'uid') uid = n;
    else if (key === 'gid') gid = n;
    else if (key === 'group') groups.push(n);
  }
  if (commonName === undefined || role === undefined || uid === undefined || gid === undefined) {
    throw new DfsError('UNAUTHENTICATED', 'the certificate names no dfs identity (role, uid and gid in its subjectAltName)');
  }
  try {
    return checkIdentity({ name: commonName, role: role as Role, uid, gid, groups });
  } catch (err) {
    throw new DfsError('UNAUTHENTICATED', `the certificate's identity is malformed: ${(err as Error).message}`);
  }
}
