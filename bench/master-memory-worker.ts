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
 * from chunkservers' reports), after a warm-up of a tenth as many (at most
 * 50,000). Prints one JSON line, a MasterMemoryReport.
 */
export interface MasterMemoryReport {
  files: number;
  chunks: number;
  /** Resident memory after start-up (cluster initialised, directories made) and after the files, after forced collections. */
  rssBeforeBytes: number;
  rssAfterFilesBytes: number;
  /** And after the chunk locations as well. */
  rssAfterLocationsBytes: number;
  /** V8 heap used, delta over the files (the state machine's columns are outside it, in resizable buffers). */
  heapUsedDeltaBytes: number;
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
const WARM_FILES_MAX = 50_000;

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

/** The chunks the benchmark allocated, in order: its own record, not the master's, allocated before the first reading. */
class ChunkLog {
  readonly handles: Float64Array;
  readonly versions: Float64Array;
  count = 0;

  constructor(capacity: number) {
    // Filled now, so that the pages of the log are resident before the first
    // reading: the kernel backs a new array's pages only when written.
    this.handles = new Float64Array(capacity).fill(-1);
    this.versions = new Float64Array(capacity).fill(-1);
  }

  push(handle: number, version: number): void {
    this.handles[this.count] = handle;
    this.versions[this.count++] = version;
  }
}

/** Creates `count` files of `chunksPerFile` chunks under /PREFIX<d>/ (1,000 a directory), every one written to its last chunk. */
function loadFiles(prefix: string, count: number, log: ChunkLog): void {
  const directories = Math.ceil(count / FILES_PER_DIRECTORY);
  for (let d = 0; d < directories; d++) apply(entries.mkdir(timeUs++, undefined, { path: `/${prefix}${d}`, mode: 0o755 }));
  // Files go in groups small enough that each group's chunk allocations fit one batch.
  const filesPerGroup = Math.max(1, Math.floor(LIMITS.batchOpsMax / chunksPerFile));
  for (let first = 0; first < count; first += filesPerGroup) {
    const group = Array.from({ length: Math.min(filesPerGroup, count - first) }, (_, k) => first + k);
    const created = applyBatch(
      group.map((i) =>
        entries.create(timeUs, { clientId: `${prefix}-client-${i % CLIENTS}`, seq: Math.floor(i / CLIENTS) + 1 }, { path: `/${prefix}${Math.floor(i / FILES_PER_DIRECTORY)}/file-${i}`, mode: 0o644, uid: 1000, gid: 1000 }),
      ),
    );
    const inodes = created.map((v) => {
      if (v.kind !== 'attr') throw new Error(`a create applied as ${v.kind}`);
      return v.attr.inode;
    });
    const allocated = applyBatch(inodes.flatMap((inode) => Array.from({ length: chunksPerFile }, (_, index) => entries.allocateChunk(timeUs, undefined, { inode, index }))));
    for (const v of allocated) {
      if (v.kind !== 'chunk') throw new Error(`an allocation applied as ${v.kind}`);
      log.push(v.chunk.handle, v.chunk.version);
    }
    applyBatch(inodes.map((inode) => entries.commitWrite(timeUs, undefined, { inode, endOffset: chunksPerFile * CHUNK_SIZE_BYTES - 1000 })));
  }
}

/** Records every replica of the chunks log[from, to) in the leader's locations, as the chunkservers' reports would. */
function addLocations(locations: ChunkLocations, log: ChunkLog, from: number, to: number): void {
  const servers = Array.from({ length: replicas }, (_, s) => serverId(`chunkserver-${s}`));
  for (let c = from; c < to; c++) {
    for (const server of servers) locations.set(server, chunkHandle(log.handles[c]!), chunkVersion(log.versions[c]!));
  }
}

apply(entries.initCluster(timeUs++, undefined, { chunkSizeBytes: CHUNK_SIZE_BYTES, defaultReplication: 3, clusterId: 'bench' }));
// A warm-up of the same work first, so that what any master pays once whatever it holds (compiled
// code, V8's young generation grown to its working size, the session table's clients) is in the
// first reading and the deltas are what the files themselves cost.
const warmFiles = Math.min(WARM_FILES_MAX, Math.ceil(files / 10));
const log = new ChunkLog((warmFiles + files) * chunksPerFile);
const locations = new ChunkLocations();
loadFiles('warm', warmFiles, log);
addLocations(locations, log, 0, log.count);
const warmChunks = log.count;
const before = settle();
const started = process.hrtime.bigint();
loadFiles('d', files, log);
const applySeconds = Number(process.hrtime.bigint() - started) / 1e9;
const afterFiles = settle();
addLocations(locations, log, warmChunks, log.count);
const afterLocations = settle();

const counts = sm.counts();
if (counts.files !== warmFiles + files || counts.chunks !== log.count || log.count !== (warmFiles + files) * chunksPerFile) {
  throw new Error(`loaded ${counts.files} files and ${counts.chunks} chunks, expected ${warmFiles + files} and ${(warmFiles + files) * chunksPerFile}`);
}
const report: MasterMemoryReport = {
  files,
  chunks: files * chunksPerFile,
  rssBeforeBytes: before.rss,
  rssAfterFilesBytes: afterFiles.rss,
  rssAfterLocationsBytes: afterLocations.rss,
  heapUsedDeltaBytes: afterFiles.heapUsed - before.heapUsed,
  applySeconds,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
