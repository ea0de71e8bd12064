import { DfsError } from '../common/errors.js';
import { checkIdentity, type Identity } from './identity.js';
import { TokenKey } from './token-keys.js';

/**
 * Bearer tokens for clients without a certificate: `dfs1.<payload>.<mac>`,
 * the payload base64url JSON of the identity and its expiry, signed with the
 * cluster secret's identity key. Sent as `authorization: Bearer <token>` over
 * TLS. Whoever holds the secret (`dfs security token`) mints them; there is
 * no revocation but expiry, so keep them short-lived.
 */
const PREFIX = 'dfs1';
export const TOKEN_MAX_CHARS = 4096;

interface Payload {
  n: string;
  r: string;
  u: number;
  g: number;
  G: number[];
  /** Expiry, ms since the epoch. */
  e: number;
}

export class IdentityTokens {
  private readonly key: TokenKey;

  constructor(secret: Buffer) {
    this.key = new TokenKey(secret, 'identity', 32);
  }

  mint(identity: Identity, expiresAtMs: number): string {
    checkIdentity(identity);
    const payload: Payload = { n: identity.name, r: identity.role, u: identity.uid, g: identity.gid, G: [...identity.groups], e: expiresAtMs };
    return this.key.sign(`${PREFIX}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`);
  }

  /** The identity a token carries; UNAUTHENTICATED if it is forged, malformed or expired. */
  verify(token: string, nowMs: number): { identity: Identity; expiresAtMs: number } {
    if (token.length > TOKEN_MAX_CHARS) throw new DfsError('UNAUTHENTICATED', `a token is at most ${TOKEN_MAX_CHARS} characters`);
    const body = this.key.open(token);
    if (body === undefined || !body.startsWith(`${PREFIX}.`)) throw new DfsError('UNAUTHENTICATED', 'the bearer token is not one this cluster signed');
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body.slice(PREFIX.length + 1), 'base64url').toString('utf8')) as Payload;
    } catch {
      throw new DfsError('UNAUTHENTICATED', 'the bearer token is malformed');
    }
    if (typeof payload.e !== 'number' || payload.e <= nowMs) throw new DfsError('UNAUTHENTICATED', 'the bearer token has expired');
    try {
      const identity = checkIdentity({ name: payload.n, role: payload.r as Identity['role'], uid: payload.u, gid: payload.g, groups: payload.G });
      return { identity, expiresAtMs: payload.e };
    } catch (err) {
      throw new DfsError('UNAUTHENTICATED', `the bearer token's identity is malformed: ${(err as Error).message}`);
    }
  }
}
