/** What fsck counts: per page on the master, summed over pages by the CLI. */
export interface FsckCounts {
  files: number;
  /** Written chunks (a chunk never written holds no data). */
  chunks: number;
  healthy: number;
  underReplicated: number;
  overReplicated: number;
  unavailable: number;
  missing: number;
  corruptReplicas: number;
  staleReplicas: number;
  /** File bytes examined. */
  bytes: number;
}

export function emptyFsckCounts(): FsckCounts {
  return { files: 0, chunks: 0, healthy: 0, underReplicated: 0, overReplicated: 0, unavailable: 0, missing: 0, corruptReplicas: 0, staleReplicas: 0, bytes: 0 };
}
