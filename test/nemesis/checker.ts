import type { DfsClient } from '../../client-lib/index.js';
import { checkOperations, type CheckResult } from '../lincheck/checker.js';
import type { TestCluster } from '../harness/test-cluster.js';
import { replicaFiles } from '../harness/replica-files.js';
import type { AppendLog } from './workloads/append-log.js';
import { namespaceModel, type NamespaceInput, type NamespaceOutput, type NamespaceOperation } from './workloads/namespace-model.js';
import { recordKey, scanRecords } from './workloads/records.js';

/** What the final read of the appenders' file shows against their log. */
export interface RecordCheck {
  /** Acknowledged records the file does not hold. */
  lost: string[];
  /** Records (acknowledged or not) the file holds more than once. */
  duplicated: string[];
  /** Acknowledged records found, but not at the offset their append answered. */
  misplaced: string[];
  /** Bytes of the final read that are neither padding nor a record that was sent. */
  corrupt: string[];
  /** Records whose append failed but which landed (allowed: the outcome was unknown). */
  failedButPresent: number;
  /** Record prefixes cut short (a failed append's remains): allowed, counted. */
  torn: number;
  recordsFound: number;
}

/**
 * Every acknowledged append present exactly once, at the offset it was
 * acknowledged at; every record in the file one that was sent, at most once;
 * nothing else but zeros. `data` is the whole file as a client reads it.
 */
export function checkRecords(data: Buffer, chunkSizeBytes: number, log: AppendLog): RecordCheck {
  const result: RecordCheck = { lost: [], duplicated: [], misplaced: [], corrupt: [], failedButPresent: 0, torn: 0, recordsFound: 0 };
  const found = new Map<string, number[]>();
  // Records never straddle chunks (a record that does not fit pads the chunk), so each chunk scans on its own.
  for (let start = 0; start < data.length; start += chunkSizeBytes) {
    for (const item of scanRecords(data.subarray(start, start + chunkSizeBytes))) {
      const at = start + item.offset;
      if (item.kind === 'garbage') result.corrupt.push(`offset ${at}: ${item.reason}`);
      else if (item.kind === 'torn') {
        if (item.id.writer >= 0 && !log.wasSent(item.id)) result.corrupt.push(`offset ${at}: part of record ${recordKey(item.id)}, never sent`);
        else result.torn++;
      } else if (!log.wasSent(item.id)) result.corrupt.push(`offset ${at}: record ${recordKey(item.id)}, never sent`);
      else {
        result.recordsFound++;
        const key = recordKey(item.id);
        const offsets = found.get(key);
        if (offsets === undefined) found.set(key, [at]);
        else offsets.push(at);
      }
    }
  }
  for (const [key, offsets] of found) {
    if (offsets.length > 1) {
      const ack = log.acknowledged.get(key);
      result.duplicated.push(`${key} at ${offsets.join(', ')} (${ack ? `acknowledged at ${ack.offset}, ${ack.ackAtMs} ms into the run` : `not acknowledged: ${log.failed.get(key) ?? 'in flight'}`})`);
    }
    if (log.failed.has(key)) result.failedButPresent++;
  }
  for (const [key, ack] of log.acknowledged) {
    const offsets = found.get(key);
    if (offsets === undefined) result.lost.push(`${key} (acknowledged at offset ${ack.offset}, ${ack.ackAtMs} ms into the run)`);
    else if (!offsets.includes(ack.offset)) result.misplaced.push(`${key}: acknowledged at ${ack.offset}, found at ${offsets.join(', ')}`);
  }
  return result;
}

export interface ReplicaCheck {
  chunks: number;
  replicas: number;
  /** Chunks whose listed replicas are not byte for byte what a client reads. */
  mismatches: string[];
}

/**
 * Every replica the master lists, read straight from its chunkserver's
 * disk, holds exactly the bytes a client reads for that chunk (a file
 * shorter than the chunk reads as zeros past its end, as the store does).
 */
export async function checkReplicas(cluster: TestCluster, client: DfsClient, path: string, data: Buffer, chunkSizeBytes: number): Promise<ReplicaCheck> {
  const chunks = await replicaFiles(cluster, client, path);
  const result: ReplicaCheck = { chunks: chunks.length, replicas: 0, mismatches: [] };
  for (const chunk of chunks) {
    const start = chunk.index * chunkSizeBytes;
    const expected = data.subarray(start, Math.min(start + chunkSizeBytes, data.length));
    for (const [server, bytes] of chunk.files) {
      result.replicas++;
      const have = Buffer.alloc(expected.length);
      bytes.copy(have, 0, 0, Math.min(bytes.length, expected.length));
      if (!have.equals(expected)) {
        let first = 0;
        while (first < expected.length && have[first] === expected[first]) first++;
        result.mismatches.push(`chunk ${chunk.index} (handle ${chunk.handle}, version ${chunk.version}) on ${server}: differs from byte ${first} (file ${bytes.length} bytes, chunk ${expected.length})`);
      }
    }
    if (chunk.files.size === 0) result.mismatches.push(`chunk ${chunk.index} (handle ${chunk.handle}) has no replica listed`);
  }
  return result;
}

export interface HealthCheck {
  chunks: number;
  healthy: number;
  unhealthy: number;
  detail: string;
}

/** fsck of the whole namespace: every written chunk at its replication goal, none missing or unavailable. */
export async function checkHealth(client: DfsClient): Promise<HealthCheck> {
  let chunks = 0;
  let healthy = 0;
  const counts = { underReplicated: 0, overReplicated: 0, unavailable: 0, missing: 0, corruptReplicas: 0, staleReplicas: 0 };
  let cursor = '';
  do {
    const page = await client.fsck('/', cursor);
    const s = page.summary;
    if (s !== null) {
      chunks += Number(s.chunks);
      healthy += Number(s.healthy);
      counts.underReplicated += Number(s.underReplicated);
      counts.overReplicated += Number(s.overReplicated);
      counts.unavailable += Number(s.unavailable);
      counts.missing += Number(s.missing);
      counts.corruptReplicas += Number(s.corruptReplicas);
      counts.staleReplicas += Number(s.staleReplicas);
    }
    cursor = page.nextCursor;
  } while (cursor !== '');
  const unhealthy = counts.underReplicated + counts.overReplicated + counts.unavailable + counts.missing;
  return { chunks, healthy, unhealthy, detail: Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ') };
}

export type LinearizabilityResult = CheckResult<NamespaceInput, NamespaceOutput> & { readonly operations: number; readonly ms: number };

/** The metadata history against the namespace model, per directory. */
export function checkLinearizable(history: readonly NamespaceOperation[]): LinearizabilityResult {
  const started = performance.now();
  const result = checkOperations(namespaceModel, history, { maxSteps: 20_000_000 });
  return { ...result, operations: history.length, ms: Math.round(performance.now() - started) };
}
