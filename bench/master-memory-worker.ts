import { chunkHandle, chunkVersion, serverId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { ChunkLocations } from '../master/chunk-locations.js';
import { encodeEntry, entries, type LogEntry } from '../master/log-entry.js';
import { MasterStateMachine, type ApplyResult, type ApplyValue } from '../master/state-machine.js';
import { residentBytes } from './rss-sampler.js';

/**
 * The child process of master-memory.ts (run with --expose-gc):
 *   node --expose-gc master-memory-worker.js FILES CHUNKS_PER_FILE REPLICAS
 * Loads FILES files of CHUNKS_PER_FILE chunks each into a fresh master state
 * machine, in Batch entries as a leader applies them, then records REPLICAS
 * replicas of every chunk in the leader's chunk locations (what it learns
 * from chunkservers' reports). Prints one JSON line, a MasterMemoryReport.
 */
export interface MasterMemoryReport {
  files: number;
  chunks: number;
  /** Resident memory after start-up (cluster initialised, directories made) and after the files, after forced collections. */
  rssBeforeBytes: number;
  rssAfterFilesBytes: number;
  /** And after the chunk locations as well. */
  rssAfterLocationsBytes: number;
  /** V8 heap and typed-array buffers (where the state machine keeps its columns), deltas over the files. */
  heapUsedDeltaBytes: number;
  arrayBuffersDeltaBytes: number;
  applySeconds: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const FILES_PER_DIRECTORY = 1000;
/** Realistic times (microseconds since the epoch), so that they are doubles as in a live cluster. */
const EPOCH_US = 1_700_000_000_000_000;
/** Clients whose request ids the creates carry, so that the session table is as a busy master's. */
const CLIENTS = 64;
const CHUNK_SIZE_BYTES = 64 * 1024 * 1024;

function settle(): NodeJS.MemoryUsage & { rss: number } {
  // Several rounds: a collection can free what keeps another object alive.
  for (let i = 0; i < 4; i++) gc!();
  const usage = process.memoryUsage();
  return { ...usage, rss: residentBytes(process.pid) ?? usage.rss };
}

const [files, chunksPerFile, replicas] = process.argv.slice(2).map(Number) as [number, number, number];
const sm = new MasterStateMachine();
let timeUs = EPOCH_US;

function apply(entry: LogEntry): ApplyValue {
  const result = sm.applyEncoded(encodeEntry(entry));
  if (!result.ok) throw result.error;
  return result.value;
}

/** Applies sub-entries as one Batch entry and returns each one's value; any failure is a broken benchmark. */
function applyBatch(subEntries: LogEntry[]): ApplyValue[] {
  const value = apply(entries.batch(timeUs++, subEntries));
  if (value.kind !== 'batch') throw new Error(`a batch applied as ${value.kind}`);
  return value.results.map((r: ApplyResult) => {
    if (!r.ok) throw r.error;
    return r.value;
  });
}

apply(entries.initCluster(timeUs++, undefined, { chunkSizeBytes: CHUNK_SIZE_BYTES, defaultReplication: 3, clusterId: 'bench' }));
const directories = Math.ceil(files / FILES_PER_DIRECTORY);
for (let d = 0; d < directories; d++) apply(entries.mkdir(timeUs++, undefined, { path: `/d${d}`, mode: 0o755 }));

// The benchmark's own record of the chunks, allocated before the first reading so that it is not counted as the master's.
const handles = new Float64Array(files * chunksPerFile);
const versions = new Float64Array(files * chunksPerFile);
let chunkCount = 0;
const before = settle();
const started = process.hrtime.bigint();
// Files go in groups small enough that each group's chunk allocations fit one batch.
const filesPerGroup = Math.max(1, Math.floor(LIMITS.batchOpsMax / chunksPerFile));
for (let first = 0; first < files; first += filesPerGroup) {
  const group = Array.from({ length: Math.min(filesPerGroup, files - first) }, (_, k) => first + k);
  const created = applyBatch(
    group.map((i) =>
      entries.create(timeUs, { clientId: `client-${i % CLIENTS}`, seq: Math.floor(i / CLIENTS) + 1 }, { path: `/d${Math.floor(i / FILES_PER_DIRECTORY)}/file-${i}`, mode: 0o644, uid: 1000, gid: 1000 }),
    ),
  );
  const inodes = created.map((v) => {
    if (v.kind !== 'attr') throw new Error(`a create applied as ${v.kind}`);
    return v.attr.inode;
  });
  const allocated = applyBatch(inodes.flatMap((inode) => Array.from({ length: chunksPerFile }, (_, index) => entries.allocateChunk(timeUs, undefined, { inode, index }))));
  for (const v of allocated) {
    if (v.kind !== 'chunk') throw new Error(`an allocation applied as ${v.kind}`);
    handles[chunkCount] = v.chunk.handle;
    versions[chunkCount++] = v.chunk.version;
  }
  applyBatch(inodes.map((inode) => entries.commitWrite(timeUs, undefined, { inode, endOffset: chunksPerFile * CHUNK_SIZE_BYTES - 1000 })));
}
const applySeconds = Number(process.hrtime.bigint() - started) / 1e9;
const afterFiles = settle();

const locations = new ChunkLocations();
const servers = Array.from({ length: replicas }, (_, s) => serverId(`chunkserver-${s}`));
for (let c = 0; c < chunkCount; c++) {
  for (const server of servers) locations.set(server, chunkHandle(handles[c]!), chunkVersion(versions[c]!));
}
const afterLocations = settle();

const report: MasterMemoryReport = {
  files,
  chunks: files * chunksPerFile,
  rssBeforeBytes: before.rss,
  rssAfterFilesBytes: afterFiles.rss,
  rssAfterLocationsBytes: afterLocations.rss,
  heapUsedDeltaBytes: afterFiles.heapUsed - before.heapUsed,
  arrayBuffersDeltaBytes: afterFiles.arrayBuffers - before.arrayBuffers,
  applySeconds,
};
const counts = sm.counts();
if (counts.files !== files || counts.chunks !== chunkCount || chunkCount !== files * chunksPerFile) {
  throw new Error(`loaded ${counts.files} files and ${counts.chunks} chunks, expected ${files} and ${files * chunksPerFile}`);
}
process.stdout.write(`${JSON.stringify(report)}\n`);
