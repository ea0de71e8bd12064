import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { DfsError } from '../common/errors.js';

/**
 * The cluster secret (32 random bytes, hex, in a credentials directory's
 * `cluster-secret`, held by masters and chunkservers only) and the keys
 * derived from it: one per purpose, so that a token made for one purpose
 * never passes for another.
 */
export type TokenPurpose = 'identity' | 'chunk-access';

export const SECRET_BYTES = 32;

export function newClusterSecret(): string {
  return randomBytes(SECRET_BYTES).toString('hex');
}

export function parseClusterSecret(text: string, where: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== SECRET_BYTES * 2) {
    throw new DfsError('INVALID_ARGUMENT', `${where}: a cluster secret is ${SECRET_BYTES * 2} hex digits`);
  }
  return Buffer.from(hex, 'hex');
}

export class TokenKey {
  private readonly key: Buffer;

  constructor(secret: Buffer, purpose: TokenPurpose, private readonly macBytes: number) {
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `dfs ${purpose}`, 32));
  }

  /** `body.mac`: the body must not contain '.' after its last one (callers pick alphabets without it). */
  sign(body: string): string {
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The body a token carries, or undefined when its MAC is not ours. */
  open(token: string): string | undefined {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.mac(body);
    return given.length === expected.length && timingSafeEqual(given, expected) ? body : undefined;
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, this.macBytes);
  }
}
