import { Level } from 'level';
import type { ChunkHandle, ChunkVersion, ClientId } from '../common/ids.js';
import { handleHex } from './chunk-files.js';
import type { Lineage, VersionPrefix } from './lineage.js';

/**
 * The chunk metadata in LevelDB: key schema, value encodings, loading.
 *
 * Every key of a replica starts with its handle, so one range covers it:
 *   <h16>/r                 record: version, durable length, flags
 *   <h16>/k/<group 4 hex>   CRC32C of GROUP_BLOCKS blocks, uint32 LE each
 *   <h16>/d/<client>/<seq 16 hex>  record-append dedup entry: offset, length
 *   <h16>/x                 corruption mark: the reason, UTF-8
 *   <h16>/l                 lineage (lineage.ts): overwrittenFrom, then (version, prefix) pairs
 * The record is the root: keys of a handle without one are garbage left by an
 * interrupted delete, and `load` reports them for removal. Numbers are stored
 * as float64 LE, exact for every safe integer.
 */
export interface ReplicaRecord {
  readonly version: ChunkVersion;
  readonly length: number;
  readonly importing: boolean;
}

export interface DedupEntry {
  readonly offset: number;
  readonly length: number;
}

/** A record append remembered with its key: a replica's dedup table as a copy carries it. */
export interface LandedAppend extends DedupEntry {
  readonly clientId: ClientId;
  readonly seq: number;
}

export type MetaOp = { readonly type: 'put'; readonly key: string; readonly value: Buffer } | { readonly type: 'del'; readonly key: string };

/** Everything stored about one handle; `record` is undefined when it is missing or unreadable. */
export interface StoredReplica {
  readonly handle: ChunkHandle;
  record: ReplicaRecord | undefined;
  readonly crcGroups: Map<number, Buffer>;
  /** Per client, entries in ascending sequence order. */
  readonly dedup: Map<ClientId, Map<number, DedupEntry>>;
  corruptReason: string | undefined;
  /** Undefined when the replica was stored before lineages were kept (or the value is unreadable). */
  lineage: Lineage | undefined;
  /** Keys that could not be parsed: deleted by the caller. */
  readonly badKeys: string[];
}

const IMPORTING_FLAG = 1;
const RECORD_BYTES = 17;
const DEDUP_BYTES = 16;

export const metaKeys = {
  record: (handle: ChunkHandle): string => `${handleHex(handle)}/r`,
  crcGroup: (handle: ChunkHandle, group: number): string => `${handleHex(handle)}/k/${group.toString(16).padStart(4, '0')}`,
  dedup: (handle: ChunkHandle, client: ClientId, seq: number): string =>
    `${handleHex(handle)}/d/${client}/${seq.toString(16).padStart(16, '0')}`,
  corruptMark: (handle: ChunkHandle): string => `${handleHex(handle)}/x`,
  lineage: (handle: ChunkHandle): string => `${handleHex(handle)}/l`,
};

export function encodeLineage(lineage: Lineage): Buffer {
  const value = Buffer.allocUnsafe(8 + 16 * lineage.entries.length);
  value.writeDoubleLE(lineage.overwrittenFrom, 0);
  lineage.entries.forEach((e, i) => {
    value.writeDoubleLE(e.version, 8 + 16 * i);
    value.writeDoubleLE(e.prefix, 16 + 16 * i);
  });
  return value;
}

function decodeLineage(value: Buffer): Lineage | undefined {
  if (value.length < 8 || (value.length - 8) % 16 !== 0) return undefined;
  const overwrittenFrom = value.readDoubleLE(0);
  const entries: VersionPrefix[] = [];
  for (let at = 8; at < value.length; at += 16) {
    const version = value.readDoubleLE(at);
    const prefix = value.readDoubleLE(at + 8);
    if (!isCount(version) || !isCount(prefix)) return undefined;
    entries.push({ version: version as ChunkVersion, prefix });
  }
  return isCount(overwrittenFrom) ? { entries, overwrittenFrom } : undefined;
}

export function encodeRecord(record: ReplicaRecord): Buffer {
  const value = Buffer.allocUnsafe(RECORD_BYTES);
  value.writeDoubleLE(record.version, 0);
  value.writeDoubleLE(record.length, 8);
  value.writeUInt8(record.importing ? IMPORTING_FLAG : 0, 16);
  return value;
}

function decodeRecord(value: Buffer): ReplicaRecord | undefined {
  if (value.length !== RECORD_BYTES) return undefined;
  const version = value.readDoubleLE(0);
  const length = value.readDoubleLE(8);
  if (!isCount(version) || !isCount(length)) return undefined;
  return { version: version as ChunkVersion, length, importing: (value.readUInt8(16) & IMPORTING_FLAG) !== 0 };
}

export function encodeDedup(entry: DedupEntry): Buffer {
  const value = Buffer.allocUnsafe(DEDUP_BYTES);
  value.writeDoubleLE(entry.offset, 0);
  value.writeDoubleLE(entry.length, 8);
  return value;
}

function decodeDedup(value: Buffer): DedupEntry | undefined {
  if (value.length !== DEDUP_BYTES) return undefined;
  const offset = value.readDoubleLE(0);
  const length = value.readDoubleLE(8);
  return isCount(offset) && isCount(length) ? { offset, length } : undefined;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function parseHex(text: string): number | undefined {
  if (!/^[0-9a-f]+$/.test(text)) return undefined;
  const n = Number.parseInt(text, 16);
  return Number.isSafeInteger(n) ? n : undefined;
}

export class ChunkMetaDb {
  private constructor(private readonly db: Level<string, Buffer>) {}

  static async open(location: string): Promise<ChunkMetaDb> {
    const db = new Level<string, Buffer>(location, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    return new ChunkMetaDb(db);
  }

  /** Reads every key once. Keys whose handle cannot be parsed are returned under `strayKeys`. */
  async load(): Promise<{ replicas: Map<ChunkHandle, StoredReplica>; strayKeys: string[] }> {
    const replicas = new Map<ChunkHandle, StoredReplica>();
    const strayKeys: string[] = [];
    for await (const [key, value] of this.db.iterator()) {
      const handle = key[16] === '/' ? parseHex(key.slice(0, 16)) : undefined;
      if (handle === undefined) {
        strayKeys.push(key);
        continue;
      }
      let stored = replicas.get(handle as ChunkHandle);
      if (stored === undefined) {
        stored = {
          handle: handle as ChunkHandle,
          record: undefined,
          crcGroups: new Map(),
          dedup: new Map(),
          corruptReason: undefined,
          lineage: undefined,
          badKeys: [],
        };
        replicas.set(handle as ChunkHandle, stored);
      }
      if (!parseInto(stored, key.slice(17), value)) stored.badKeys.push(key);
    }
    return { replicas, strayKeys };
  }

  /** Applies `ops` atomically; with `sync`, durably (LevelDB fsyncs its log). */
  async write(ops: readonly MetaOp[], sync: boolean): Promise<void> {
    if (ops.length === 0) return;
    await this.db.batch(
      ops.map((op) => (op.type === 'put' ? { type: 'put' as const, key: op.key, value: op.value } : { type: 'del' as const, key: op.key })),
      { sync },
    );
  }

  /** Removes every key of a handle (not atomically: callers delete the record first). */
  async clearReplica(handle: ChunkHandle): Promise<void> {
    const prefix = handleHex(handle);
    // '0' is the character after '/', so the range is exactly the keys starting with "<h16>/".
    await this.db.clear({ gte: `${prefix}/`, lt: `${prefix}0` });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Adds one key (the part after "<h16>/") to `stored`; false if it cannot be parsed. */
function parseInto(stored: StoredReplica, rest: string, value: Buffer): boolean {
  if (rest === 'r') {
    stored.record = decodeRecord(value);
    return stored.record !== undefined;
  }
  if (rest === 'x') {
    stored.corruptReason = value.toString('utf8');
    return true;
  }
  if (rest === 'l') {
    stored.lineage = decodeLineage(value);
    return stored.lineage !== undefined;
  }
  if (rest.startsWith('k/')) {
    const group = rest.length === 6 ? parseHex(rest.slice(2)) : undefined;
    if (group === undefined || value.length % 4 !== 0) return false;
    stored.crcGroups.set(group, value);
    return true;
  }
  if (rest.startsWith('d/') && rest.length > 2 + 1 + 17) {
    const client = rest.slice(2, -17) as ClientId;
    const seq = rest[rest.length - 17] === '/' ? parseHex(rest.slice(-16)) : undefined;
    const entry = decodeDedup(value);
    if (client.length === 0 || seq === undefined || entry === undefined) return false;
    let entries = stored.dedup.get(client);
    if (entries === undefined) {
      entries = new Map();
      stored.dedup.set(client, entries);
    }
    // Keys arrive in ascending order and seq is fixed-width hex, so this is ascending seq order.
    entries.set(seq, entry);
    return true;
  }
  return false;
}
