/**
 * The case format: a POSIX case is a named sequence of steps, each an
 * operation run by one user, with the outcome the case author expects on
 * Linux. The harness compares what two directories do; the expectation
 * guards the case itself (a case whose reference run does not match its
 * expectation is reported, so a mis-set-up permission case cannot pass by
 * failing for the wrong reason).
 *
 * Paths are relative to the case's own directory and are passed to the
 * kernel unnormalized ("d/." and "f/" keep their meaning).
 */
import type { GroupRole, Who } from './identities.js';

export const CATEGORIES = [
  'open',
  'create',
  'mkdir',
  'rmdir',
  'unlink',
  'rename',
  'link',
  'symlink',
  'chmod',
  'chown',
  'truncate',
  'utimens',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const OPEN_FLAGS = [
  'O_RDONLY',
  'O_WRONLY',
  'O_RDWR',
  'O_CREAT',
  'O_EXCL',
  'O_TRUNC',
  'O_APPEND',
  'O_DIRECTORY',
  'O_NOFOLLOW',
  'O_NONBLOCK',
] as const;
export type OpenFlag = (typeof OPEN_FLAGS)[number];

/** Explicit times in seconds; fractions are kept to check sub-second precision. */
export interface ExplicitTimes {
  atimeSec: number;
  mtimeSec: number;
}

export type Operation =
  | { op: 'open'; path: string; flags: OpenFlag[]; mode?: number; fd: string }
  | { op: 'close'; fd: string }
  /** write(2), or pwrite(2) when a position is given. */
  | { op: 'write'; fd: string; data: string; position?: number }
  /** read(2) / pread(2); the step's value is what was read. */
  | { op: 'read'; fd: string; length: number; position?: number }
  /** The step's value is the file's static attributes, seen through the descriptor. */
  | { op: 'fstat'; fd: string }
  | { op: 'ftruncate'; fd: string; length: number }
  /** open(O_WRONLY|O_CREAT|O_TRUNC, mode), write, close: setup shorthand. */
  | { op: 'writeFile'; path: string; data: string; mode: number }
  | { op: 'readFile'; path: string }
  | { op: 'readdir'; path: string }
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'rmdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rename'; from: string; to: string }
  /** link(2): does not follow a symlink given as `existing`. */
  | { op: 'link'; existing: string; path: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'readlink'; path: string }
  | { op: 'chmod'; path: string; mode: number }
  /** chown(2) (lchown(2) with noFollow); null leaves that id unchanged (-1). */
  | { op: 'chown'; path: string; owner: Who | null; group: GroupRole | null; noFollow: boolean }
  /** truncate(2) on a path (not Node's open-then-ftruncate, which needs read permission). */
  | { op: 'truncate'; path: string; length: number }
  /** utimensat(2): 'now' passes NULL times (write permission suffices); explicit times need ownership. */
  | { op: 'utimes'; path: string; times: 'now' | ExplicitTimes; noFollow: boolean }
  | { op: 'mkfifo'; path: string; mode: number }
  /** The step's value is the static attributes (no times) seen by the acting user. */
  | { op: 'stat'; path: string }
  | { op: 'lstat'; path: string };

export type OpName = Operation['op'];

/** 'ok' or an errno code such as 'EACCES'. */
export type Outcome = string;

/**
 * Some Linux answers depend on a sysctl that the same kernel applies to both
 * directories (fs.protected_hardlinks and friends are checked by the VFS
 * before any file system sees the call); the expectation then names both.
 */
export interface SysctlExpectation {
  sysctl: 'fs.protected_hardlinks' | 'fs.protected_symlinks' | 'fs.protected_regular' | 'fs.protected_fifos';
  /** Expected outcome when the sysctl is non-zero. */
  on: Outcome;
  off: Outcome;
}
export type Expectation = Outcome | SysctlExpectation;

export type Step = Operation & {
  as: Who;
  expect: Expectation;
  /**
   * Paths that root lstat()s after the step (type, mode, nlink, size, owner,
   * content, timestamp relations). Defaults to the paths the step names and
   * their parent directories; [] for read-only steps.
   */
  observe?: string[];
};

export interface PosixCase {
  /** `<category>/<what>`, unique. */
  name: string;
  category: Category;
  /** What Linux does and why the case exists (shown with mismatches). */
  summary: string;
  steps: Step[];
}
