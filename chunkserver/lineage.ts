import { DfsError } from '../common/errors.js';
import type { ChunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';

/**
 * A replica's recent history, so that a peer holding an older version of
 * the chunk fetches only the bytes that differ (a delta). Pure.
 *
 * Entry {version v, prefix p}: bytes [0, p) of the replica at v are those it
 * had when its previous version ended. A new version is committed at the
 * replicas' common length L, and the entry starts at
 * min(L, overwrittenFrom of the version before); every write at v below the
 * current length, and every cut, lowers it.
 *
 * `overwrittenFrom` is the lowest offset written over (below the length at
 * the time) or cut at the current version. A copy taken during a version
 * (while it is still being appended to) holds that version's bytes as they
 * were then; later changes at the same version start at or above
 * overwrittenFrom, so folding it into the next entry keeps such a copy a
 * valid base. Appends never lower anything: they land at or past the length.
 *
 * Replicas of one version hold the same bytes wherever a mutation was
 * acknowledged; a write that failed on some replicas and was never retried
 * leaves an inconsistent region (as in GFS), which a delta may keep from its
 * base: the same guarantee a client reading either replica has.
 */
export interface VersionPrefix {
  readonly version: ChunkVersion;
  readonly prefix: number;
}

export interface Lineage {
  /** Ascending by version; the last is the replica's current version (empty when unknown). */
  readonly entries: readonly VersionPrefix[];
  readonly overwrittenFrom: number;
}

/** overwrittenFrom when nothing has been written over: past any chunk. */
export const NO_OVERWRITE = LIMITS.chunkSizeMaxBytes;

/** A new, empty replica: nothing to reuse yet, nothing overwritten. */
export const EMPTY_LINEAGE: Lineage = { entries: [], overwrittenFrom: NO_OVERWRITE };

/** A replica stored before lineages were kept: its history is unknown, so none of it is vouched for. */
export const UNKNOWN_LINEAGE: Lineage = { entries: [], overwrittenFrom: 0 };

/** The replica moved to `version` at common length `length` (a lease's commit). */
export function committed(lineage: Lineage, version: ChunkVersion, length: number): Lineage {
  const kept = lineage.entries.filter((e) => e.version < version);
  const entries = [...kept, { version, prefix: Math.min(length, lineage.overwrittenFrom) }];
  return { entries: entries.slice(-LIMITS.lineageEntriesMax), overwrittenFrom: NO_OVERWRITE };
}

/** Bytes from `offset` on changed at the current version: a write below the length, or a cut to `offset`. */
export function overwritten(lineage: Lineage, offset: number): Lineage {
  const last = lineage.entries[lineage.entries.length - 1];
  const lowersPrefix = last !== undefined && offset < last.prefix;
  if (!lowersPrefix && offset >= lineage.overwrittenFrom) return lineage;
  const entries = lowersPrefix ? [...lineage.entries.slice(0, -1), { version: last.version, prefix: offset }] : lineage.entries;
  return { entries, overwrittenFrom: Math.min(lineage.overwrittenFrom, offset) };
}

/**
 * How many leading bytes a base replica (at `baseVersion`, `baseLength`
 * bytes) shares with this replica of `length` bytes: 0 unless this
 * replica's history goes back to the base's version.
 */
export function reusableLength(lineage: Lineage, length: number, baseVersion: ChunkVersion, baseLength: number): number {
  if (!lineage.entries.some((e) => e.version === baseVersion)) return 0;
  let reuse = Math.min(baseLength, length, lineage.overwrittenFrom);
  for (const e of lineage.entries) if (e.version > baseVersion) reuse = Math.min(reuse, e.prefix);
  return reuse;
}

/**
 * Checks a lineage a peer sent for a replica at `version`: ascending
 * versions ending at `version` (or empty), at most the kept number of
 * entries. INVALID_ARGUMENT otherwise.
 */
export function checkLineage(lineage: Lineage, version: ChunkVersion): Lineage {
  const { entries } = lineage;
  if (entries.length > LIMITS.lineageEntriesMax) throw new DfsError('INVALID_ARGUMENT', `lineage has ${entries.length} entries, more than ${LIMITS.lineageEntriesMax}`);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.version <= entries[i - 1]!.version) throw new DfsError('INVALID_ARGUMENT', 'lineage versions are not ascending');
  }
  const last = entries[entries.length - 1];
  if (last !== undefined && last.version !== version) {
    throw new DfsError('INVALID_ARGUMENT', `lineage ends at version ${last.version}, not the replica's ${version}`);
  }
  return lineage;
}

export function sameLineage(a: Lineage, b: Lineage): boolean {
  return (
    a.overwrittenFrom === b.overwrittenFrom &&
    a.entries.length === b.entries.length &&
    a.entries.every((e, i) => e.version === b.entries[i]!.version && e.prefix === b.entries[i]!.prefix)
  );
}
