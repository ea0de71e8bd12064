import { AssertionError } from '../common/assert.js';

/**
 * Throws for a broken invariant, like assert(). Written as
 * `if (!ok) broken(`… ${detail}`)` it formats its message only on failure,
 * where assert(ok, `… ${detail}`) formats it on every call: on paths that run
 * per entry or per inode, that formatting is most of the cost.
 */
export function broken(message: string): never {
  throw new AssertionError(message);
}
