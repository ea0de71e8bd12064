import type { TestIdentity } from '../harness/test-cluster.js';
import type { Prng } from '../sim/prng.js';

/** The user the storm acts as on client services: not root, not the owner of the reference files. */
export const FUZZ_USER: TestIdentity = { user: 'fuzz', uid: 4242, gid: 4242 };

/**
 * Who each service expects to be called by. Most calls come as that
 * identity, so they get past authentication and reach validation; some come
 * as no one or as the wrong role, so the refusals are fuzzed too.
 */
const EXPECTED: Readonly<Record<string, TestIdentity>> = {
  'dfs.master.Metadata': FUZZ_USER,
  'dfs.master.Registry': 'chunkserver',
  'dfs.master.Admin': 'admin',
  'dfs.raft.RaftTransport': 'master',
  // A chunkserver needs no chunk access token, so its calls reach the handlers; users' calls carry forged ones (fuzz-storm.ts).
  'dfs.chunk.ChunkData': 'chunkserver',
  'dfs.chunk.ChunkReplication': 'chunkserver',
  'dfs.chunk.ChunkControl': 'master',
};

export const IDENTITIES: readonly TestIdentity[] = ['admin', 'master', 'chunkserver', 'anonymous', FUZZ_USER];

export function identityFor(service: string, rng: Prng): TestIdentity {
  const r = rng.next();
  if (r < 0.1) return 'anonymous';
  if (r < 0.15) return rng.pick(IDENTITIES);
  return EXPECTED[service] ?? 'anonymous';
}

export function identityKey(who: TestIdentity): string {
  return typeof who === 'string' ? who : `user:${who.user}`;
}

/** Chunk access tokens a user's ChunkData call may carry: none of them signed by the cluster. */
const FORGED_TOKENS = ['', 'x', '1:rw:99999999999999', '1:rw:99999999999999.AAAAAAAAAAAAAAAAAAAAAA', 'A'.repeat(129), '../../etc/passwd', '\u00e9'.repeat(40), '0:r:0.'];

export function forgedAccessToken(rng: Prng): string | undefined {
  return rng.chance(0.3) ? undefined : rng.pick(FORGED_TOKENS);
}
