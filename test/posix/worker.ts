/**
 * A worker: a child process, running as one identity, that performs case
 * steps with synchronous system calls and answers each request on one line.
 * It holds the descriptors its steps open until the runner ends the case.
 *
 * Every expected failure becomes an errno code; anything else (a Node
 * argument error, a protocol error) is a bug in the harness and crashes the
 * worker, which fails the whole run.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { assert, assertNever } from '../../common/assert.js';
import type { OpenFlag, Operation } from './case-types.js';
import { GROUP_IDS, IDENTITIES } from './identities.js';
import { mkfifo, truncatePath, utimesNow } from './missing-syscalls.js';
import type { Mutation } from './mutations.js';
import type {
  FileType,
  MissingObservation,
  RawObservation,
  RawStat,
  StepValue,
  WorkerHello,
  WorkerRequest,
  WorkerResponse,
} from './protocol.js';

/** The umask every case runs under (the usual one), set explicitly so results do not depend on the caller's. */
export const CASE_UMASK = 0o022;

/** Content this short and printable is shown as text in mismatches; longer or binary content as a hash. */
const TEXT_CONTENT_MAX_BYTES = 64;

class ErrnoFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** The errno code of a failed system call; anything else is rethrown as a harness bug. */
function errnoOf(err: unknown): string {
  if (err instanceof ErrnoFailure) return err.code;
  const e = err as NodeJS.ErrnoException;
  if (err instanceof Error && typeof e.errno === 'number' && typeof e.code === 'string' && e.code.startsWith('E')) return e.code;
  throw err;
}

export function describeContent(bytes: Buffer): string {
  const printable = bytes.every((b) => b === 0x0a || (b >= 0x20 && b < 0x7f));
  if (printable && bytes.length <= TEXT_CONTENT_MAX_BYTES) return `"${bytes.toString('latin1')}"`;
  return `${bytes.length} bytes sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

function fileType(st: BigIntStats): FileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

function rawStat(st: BigIntStats): RawStat {
  return {
    type: fileType(st),
    mode: Number(st.mode) & 0o7777,
    nlink: Number(st.nlink),
    size: Number(st.size),
    uid: Number(st.uid),
    gid: Number(st.gid),
    atimeNs: st.atimeNs.toString(),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}

function openFlags(flags: readonly OpenFlag[]): number {
  return flags.reduce((acc, flag) => acc | constants[flag], 0);
}

/** Case paths are joined without normalization: "d/." and "f/" must reach the kernel as written. */
function resolve(caseDir: string, path: string): string {
  return `${caseDir}/${path}`;
}

export class Worker {
  /** Descriptors by the case's name for them. */
  private readonly fds = new Map<string, number>();

  constructor(private readonly mutation: Mutation | undefined) {}

  handle(request: WorkerRequest): WorkerResponse {
    switch (request.kind) {
      case 'step': {
        const { outcome, value } = this.step(request.caseDir, request.operation);
        const response: WorkerResponse = { id: request.id, outcome: this.mutateOutcome(outcome) };
        if (value !== undefined) response.value = value;
        return response;
      }
      case 'observe': {
        const observations: Record<string, RawObservation | MissingObservation> = {};
        for (const path of request.paths) observations[path] = observe(resolve(request.caseDir, path));
        return { id: request.id, outcome: 'ok', observations };
      }
      case 'make-case-dir':
        mkdirSync(request.path, 0o755);
        chmodSync(request.path, 0o755);
        return { id: request.id, outcome: 'ok' };
      case 'end-case':
        this.closeAll();
        return { id: request.id, outcome: 'ok' };
      default:
        return assertNever(request, 'request');
    }
  }

  closeAll(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private mutateOutcome(outcome: string): string {
    return this.mutation === 'eacces-as-eperm' && outcome === 'EACCES' ? 'EPERM' : outcome;
  }

  private step(caseDir: string, operation: Operation): { outcome: string; value?: StepValue } {
    try {
      const value = this.perform(caseDir, operation);
      return value === undefined ? { outcome: 'ok' } : { outcome: 'ok', value };
    } catch (err) {
      return { outcome: errnoOf(err) };
    }
  }

  private fd(name: string): number {
    const fd = this.fds.get(name);
    // The open that should have made it failed; the kernel would say EBADF for a closed descriptor.
    if (fd === undefined) throw new ErrnoFailure('EBADF');
    return fd;
  }

  private perform(caseDir: string, o: Operation): StepValue | undefined {
    const p = (path: string) => resolve(caseDir, path);
    const check = (outcome: string) => {
      if (outcome !== 'ok') throw new ErrnoFailure(outcome);
    };
    switch (o.op) {
      case 'open': {
        const fd = openSync(p(o.path), openFlags(o.flags), o.mode);
        // A case reuses a name only after an open it expects to fail; if that
        // open succeeded here (a file system that differs from Linux, already
        // reported as an outcome mismatch), the new open replaces it.
        const earlier = this.fds.get(o.fd);
        if (earlier !== undefined) closeSync(earlier);
        this.fds.set(o.fd, fd);
        return undefined;
      }
      case 'close':
        closeSync(this.fd(o.fd));
        this.fds.delete(o.fd);
        return undefined;
      case 'write': {
        const data = Buffer.from(o.data);
        const written = writeSync(this.fd(o.fd), data, 0, data.length, o.position ?? null);
        assert(written === data.length, `short write: ${written} of ${data.length}`);
        return undefined;
      }
      case 'read': {
        const buffer = Buffer.alloc(o.length);
        const n = readSync(this.fd(o.fd), buffer, 0, o.length, o.position ?? null);
        return { kind: 'content', content: describeContent(buffer.subarray(0, n)) };
      }
      case 'fstat':
        return { kind: 'stat', stat: rawStat(fstatSync(this.fd(o.fd), { bigint: true })) };
      case 'ftruncate':
        ftruncateSync(this.fd(o.fd), o.length);
        return undefined;
      case 'writeFile': {
        const fd = openSync(p(o.path), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, o.mode);
        try {
          writeSync(fd, Buffer.from(o.data));
        } finally {
          closeSync(fd);
        }
        return undefined;
      }
      case 'readFile':
        return { kind: 'content', content: describeContent(readFileSync(p(o.path))) };
      case 'readdir':
        return { kind: 'entries', entries: readdirSync(p(o.path)).sort() };
      case 'mkdir':
        mkdirSync(p(o.path), o.mode);
        return undefined;
      case 'rmdir':
        rmdirSync(p(o.path));
        return undefined;
      case 'unlink':
        unlinkSync(p(o.path));
        return undefined;
      case 'rename':
        renameSync(p(o.from), p(o.to));
        return undefined;
      case 'link':
        linkSync(p(o.existing), p(o.path));
        return undefined;
      case 'symlink':
        symlinkSync(o.target, p(o.path));
        return undefined;
      case 'readlink':
        return { kind: 'target', target: readlinkSync(p(o.path)) };
      case 'chmod':
        chmodSync(p(o.path), o.mode);
        return undefined;
      case 'chown': {
        const uid = o.owner === null ? -1 : IDENTITIES[o.owner].uid;
        const gid = o.group === null ? -1 : GROUP_IDS[o.group];
        (o.noFollow ? lchownSync : chownSync)(p(o.path), uid, gid);
        return undefined;
      }
      case 'truncate':
        check(truncatePath(p(o.path), o.length));
        return undefined;
      case 'utimes':
        if (o.times === 'now') {
          assert(!o.noFollow, 'utimes now is only supported following symlinks');
          check(utimesNow(p(o.path)));
        } else {
          (o.noFollow ? lutimesSync : utimesSync)(p(o.path), o.times.atimeSec, o.times.mtimeSec);
        }
        return undefined;
      case 'mkfifo':
        check(mkfifo(p(o.path), o.mode));
        return undefined;
      case 'stat':
        return { kind: 'stat', stat: rawStat(statSync(p(o.path), { bigint: true })) };
      case 'lstat':
        return { kind: 'stat', stat: rawStat(lstatSync(p(o.path), { bigint: true })) };
      default:
        return assertNever(o, 'operation');
    }
  }
}

/** lstat() a path and read what it holds (run as root, so permissions never hide anything). */
function observe(path: string): RawObservation | MissingObservation {
  let st: BigIntStats;
  try {
    st = lstatSync(path, { bigint: true });
  } catch (err) {
    return { error: errnoOf(err) };
  }
  const observation: RawObservation = rawStat(st);
  // Never open a FIFO here: with no writer the open would block.
  if (observation.type === 'file') observation.content = describeContent(readFileSync(path));
  if (observation.type === 'symlink') observation.target = readlinkSync(path);
  if (observation.type === 'dir') observation.entries = readdirSync(path).sort();
  return observation;
}

/** The worker's main loop: requests on stdin, responses on stdout, until stdin closes. */
export async function runWorker(mutation: Mutation | undefined): Promise<void> {
  process.umask(mutation === 'umask-ignored' ? 0 : CASE_UMASK);
  const worker = new Worker(mutation);
  const hello: WorkerHello = { kind: 'hello', uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!() };
  process.stdout.write(`${JSON.stringify(hello)}\n`);
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const response = worker.handle(JSON.parse(line) as WorkerRequest);
    process.stdout.write(`${JSON.stringify(response)}\n`);
  }
  worker.closeAll();
}
