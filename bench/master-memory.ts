import { fileURLToPath } from 'node:url';
import type { MasterMemoryReport } from './master-memory-worker.js';
import { run } from './mount-workloads.js';

const WORKER = fileURLToPath(new URL('./master-memory-worker.js', import.meta.url));

export interface MasterMemoryFigures {
  report: MasterMemoryReport;
  /** Resident memory the files added, over files and over chunks. */
  bytesPerFile: number;
  bytesPerChunk: number;
  /** V8 heap the files added (after forced collections), per file: their names and directory entries. */
  heapBytesPerFile: number;
  /** Resident memory the leader's chunk locations (every replica of every chunk) added, per chunk. */
  locationBytesPerChunk: number;
}

/**
 * The leader master's memory for `files` files of `chunksPerFile` chunks:
 * loaded straight into a state machine in a child process of its own
 * (master-memory-worker.js) rather than created through a cluster, which at
 * our create rate would take hours for a million files. The same entries a
 * leader applies (Batch entries of creates, chunk allocations, commits),
 * then the replica locations the leader learns from chunkservers.
 */
export async function measureMasterMemory(files: number, chunksPerFile: number, replicas: number): Promise<MasterMemoryFigures> {
  const { stdout } = await run(process.execPath, ['--expose-gc', WORKER, String(files), String(chunksPerFile), String(replicas)], { maxBuffer: 1 << 20 });
  const report = JSON.parse(stdout.trim()) as MasterMemoryReport;
  const filesBytes = report.rssAfterFilesBytes - report.rssBeforeBytes;
  return {
    report,
    bytesPerFile: filesBytes / report.files,
    bytesPerChunk: filesBytes / report.chunks,
    heapBytesPerFile: report.heapUsedDeltaBytes / report.files,
    locationBytesPerChunk: (report.rssAfterLocationsBytes - report.rssAfterFilesBytes) / report.chunks,
  };
}
