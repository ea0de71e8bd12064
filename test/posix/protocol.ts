/**
 * The line protocol between a case runner and its workers: one JSON object
 * per line each way, one request at a time. A worker is a child process
 * running as one identity; it owns the descriptors its steps open.
 */
import type { Operation } from './case-types.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'other';

/** An lstat()/stat()/fstat() as the worker saw it, ids and times still raw. */
export interface RawStat {
  type: FileType;
  /** st_mode & 07777: permission bits with setuid, setgid and sticky. */
  mode: number;
  nlink: number;
  size: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch, as decimal strings (they exceed 2^53). */
  atimeNs: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** What root sees at a path after a step: the stat plus what the entry holds. */
export interface RawObservation extends RawStat {
  /** Regular files: the bytes, described by describeContent(). */
  content?: string;
  /** Symlinks: the target. */
  target?: string;
  /** Directories: sorted names. */
  entries?: string[];
}

/** lstat() failed: the errno code. */
export interface MissingObservation {
  error: string;
}

export type StepValue =
  | { kind: 'content'; content: string }
  | { kind: 'target'; target: string }
  | { kind: 'entries'; entries: string[] }
  | { kind: 'stat'; stat: RawStat };

export type WorkerRequest =
  | { kind: 'step'; id: number; caseDir: string; operation: Operation }
  | { kind: 'observe'; id: number; caseDir: string; paths: string[] }
  /** Root only: create a case's directory, root-owned, mode 0755. */
  | { kind: 'make-case-dir'; id: number; path: string }
  /** Close every descriptor the worker still holds. */
  | { kind: 'end-case'; id: number };

export interface WorkerResponse {
  id: number;
  /** 'ok' or an errno code. */
  outcome: string;
  value?: StepValue;
  observations?: Record<string, RawObservation | MissingObservation>;
}

/** First line a worker prints: who it really is, checked by the runner. */
export interface WorkerHello {
  kind: 'hello';
  uid: number;
  gid: number;
  groups: number[];
}
