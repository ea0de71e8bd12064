import { chunkVersion } from '../common/ids.js';
import { requireInteger } from '../common/wire-validation.js';
import type { VersionPrefix as WireVersionPrefix, VersionPrefix__Output } from '../proto/generated/dfs/chunk/VersionPrefix.js';
import type { Lineage } from './lineage.js';

/** Call metadata by which a Read says what it is for ("copy"; anything else is a client read). */
export const READ_PURPOSE_KEY = 'dfs-read-purpose';

/** A lineage as the first frame of a copy carries it. */
export function lineageToWire(lineage: Lineage): { lineage: WireVersionPrefix[]; overwrittenFrom: string } {
  return {
    lineage: lineage.entries.map((e) => ({ version: String(e.version), prefix: String(e.prefix) })),
    overwrittenFrom: String(lineage.overwrittenFrom),
  };
}

/** A peer's lineage, its numbers checked (checkLineage checks its shape). */
export function lineageFromWire(entries: VersionPrefix__Output[], overwrittenFrom: string): Lineage {
  return {
    entries: entries.map((e) => ({ version: chunkVersion(requireInteger(e.version, 'lineage.version')), prefix: requireInteger(e.prefix, 'lineage.prefix') })),
    overwrittenFrom: requireInteger(overwrittenFrom, 'overwritten_from'),
  };
}
