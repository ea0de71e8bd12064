import { DfsError } from '../common/errors.js';
import { chunkVersion, clientId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { requireInteger } from '../common/wire-validation.js';
import type { LandedAppend as WireLandedAppend, LandedAppend__Output } from '../proto/generated/dfs/chunk/LandedAppend.js';
import type { VersionPrefix as WireVersionPrefix, VersionPrefix__Output } from '../proto/generated/dfs/chunk/VersionPrefix.js';
import type { LandedAppend } from './chunk-meta-db.js';
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

/** Landed appends per frame at the end of a copy: a few hundred KiB, far below the message limit. */
export const APPENDS_PER_FRAME = 4096;

export function appendsToWire(appends: readonly LandedAppend[]): WireLandedAppend[] {
  return appends.map((a) => ({ clientId: a.clientId, seq: String(a.seq), offset: String(a.offset), length: String(a.length) }));
}

/** A copy source's landed appends, each checked to lie within the `chunkLength` bytes copied. */
export function appendsFromWire(appends: LandedAppend__Output[], chunkLength: number): LandedAppend[] {
  return appends.map((a) => {
    if (!a.clientId || Buffer.byteLength(a.clientId) > LIMITS.clientIdMaxBytes) {
      throw new DfsError('INVALID_ARGUMENT', `a landed append needs a client id of 1 to ${LIMITS.clientIdMaxBytes} bytes`);
    }
    const seq = requireInteger(a.seq, 'appends.seq');
    const offset = requireInteger(a.offset, 'appends.offset');
    const length = requireInteger(a.length, 'appends.length');
    if (seq === 0 || length === 0 || offset + length > chunkLength) {
      throw new DfsError('INVALID_ARGUMENT', `landed append ${a.clientId}:${seq} at [${offset}, +${length}) is not within the ${chunkLength} bytes copied`);
    }
    return { clientId: clientId(a.clientId), seq, offset, length };
  });
}
