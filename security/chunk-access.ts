import { DfsError } from '../common/errors.js';
import { TokenKey } from './token-keys.js';

/**
 * Chunk access tokens, as HDFS's block tokens: the master signs, for one
 * chunk, which operations its holder may do there and until when; a
 * chunkserver serves ChunkData calls only against one (peers copying
 * replicas, authenticated as chunkservers, need none). The master hands
 * them out with chunk locations (read) and leases (read and write), after
 * checking the caller's permissions on the file.
 *
 * Format `handle:ops:expiresAtMs.mac` (mac: 128 bits of HMAC-SHA256 with the
 * cluster secret's chunk-access key): small enough to send with every call.
 */
export type ChunkOp = 'read' | 'write';

const OPS = { read: 'r', write: 'w' } as const;
export const CHUNK_TOKEN_MAX_CHARS = 128;

export class ChunkTokenSigner {
  private readonly key: TokenKey;

  constructor(secret: Buffer, private readonly ttlMs: number) {
    this.key = new TokenKey(secret, 'chunk-access', 16);
  }

  sign(handle: bigint | number | string, ops: readonly ChunkOp[], nowMs: number): string {
    const letters = ops.map((op) => OPS[op]).sort().join('');
    return this.key.sign(`${handle}:${letters}:${Math.floor(nowMs + this.ttlMs)}`);
  }
}

/** Verifies tokens; remembers the ones it has checked, so a stream of reads costs one MAC. */
export class ChunkTokenVerifier {
  private readonly key: TokenKey;
  private readonly checked = new Map<string, { handle: string; ops: string; expiresAtMs: number }>();

  constructor(secret: Buffer, private readonly cacheMax = 10_000) {
    this.key = new TokenKey(secret, 'chunk-access', 16);
  }

  /**
   * Throws PERMISSION_DENIED for a missing, forged or wrong-chunk token, or
   * one that does not grant `op`; TOKEN_EXPIRED once it has expired (the
   * client then asks the master for a new one).
   */
  check(token: string | undefined, handle: string, op: ChunkOp, nowMs: number): void {
    if (token === undefined || token === '') throw new DfsError('PERMISSION_DENIED', `chunk ${handle}: no access token (ask the master for the chunk's locations)`);
    const claims = this.claims(token);
    if (claims.handle !== handle) throw new DfsError('PERMISSION_DENIED', `chunk ${handle}: the access token is for another chunk`);
    if (!claims.ops.includes(OPS[op])) throw new DfsError('PERMISSION_DENIED', `chunk ${handle}: the access token does not grant ${op}`);
    if (claims.expiresAtMs <= nowMs) throw new DfsError('TOKEN_EXPIRED', `chunk ${handle}: the access token expired ${Math.round(nowMs - claims.expiresAtMs)} ms ago`);
  }

  private claims(token: string): { handle: string; ops: string; expiresAtMs: number } {
    const known = this.checked.get(token);
    if (known !== undefined) return known;
    if (token.length > CHUNK_TOKEN_MAX_CHARS) throw new DfsError('PERMISSION_DENIED', 'the access token is too long');
    const body = this.key.open(token);
    const parts = body?.split(':');
    if (parts === undefined || parts.length !== 3 || !/^\d+$/.test(parts[2]!)) {
      throw new DfsError('PERMISSION_DENIED', 'the access token is not one this cluster signed');
    }
    const claims = { handle: parts[0]!, ops: parts[1]!, expiresAtMs: Number(parts[2]) };
    if (this.checked.size >= this.cacheMax) this.checked.clear();
    this.checked.set(token, claims);
    return claims;
  }
}
