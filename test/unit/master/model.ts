/**
 * A reference model of the master's state machine for the randomized test:
 * a plain JS tree with the rules written out directly, sharing no code with
 * master/ beyond the limits. Where the two disagree, one of them is wrong.
 */
import type { ErrorCode } from '../../../common/errors.js';
import { LIMITS } from '../../../common/limits.js';

export interface ModelAttr {
  inode: number;
  kind: 'file' | 'directory';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  atimeUs: number;
  mtimeUs: number;
  ctimeUs: number;
  replication: number;
  replicateAll: boolean;
  chunkCount: number;
  rdev: number;
}

interface Node {
  id: number;
  kind: 'file' | 'directory';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeUs: number;
  mtimeUs: number;
  ctimeUs: number;
  replication: number;
  replicateAll: boolean;
  children: Map<string, Node>;
  chunks: number[];
  /** Files: the entries naming it (0 once unlinked). */
  links: number;
}

interface Chunk {
  version: number;
  confirmedVersion: number;
  refCount: number;
  inode: number;
  index: number;
}

type Recorded =
  | { kind: 'error'; code: ErrorCode }
  | { kind: 'none' }
  | { kind: 'attr'; inode: number }
  | { kind: 'chunk'; inode: number; index: number }
  | { kind: 'version'; handle: number; version: number }
  | { kind: 'purged'; inodes: number; chunks: number; sessions: number };

export type ModelValue =
  | { kind: 'none' }
  | { kind: 'attr'; attr: ModelAttr }
  | { kind: 'chunk'; attr: ModelAttr; chunk: { index: number; handle: number; version: number } }
  | { kind: 'version'; handle: number; version: number }
  | { kind: 'purged'; inodes: number; chunks: number; sessions: number };

export type ModelResult = { ok: true; value: ModelValue; duplicate: boolean } | { ok: false; code: ErrorCode; duplicate: boolean };

export type ModelOp =
  | { op: 'initCluster'; chunkSizeBytes: number; defaultReplication: number; clusterId: string }
  | { op: 'mkdir'; path: string; mode: number; uid: number; gid: number; parents: boolean }
  | { op: 'create'; path: string; mode: number; uid: number; gid: number; exclusive: boolean; replication: number; replicateAll: boolean }
  | { op: 'delete'; path: string; recursive: boolean }
  | { op: 'rename'; source: string; destination: string; noReplace: boolean }
  | { op: 'setAttr'; path: string; mode?: number; uid?: number; gid?: number; atimeUs?: number; mtimeUs?: number; replication?: number; replicateAll?: boolean }
  | { op: 'link'; inode: number; parent: number; name: string }
  | { op: 'truncate'; inode: number; size: number }
  | { op: 'allocateChunk'; inode: number; index: number }
  | { op: 'commitWrite'; inode: number; endOffset: number }
  | { op: 'bumpVersion'; handle: number; version: number }
  | { op: 'confirmVersion'; handle: number; version: number }
  | { op: 'purgeTrash'; deletedBeforeUs: number; sessionsIdleBeforeUs: number }
  | { op: 'noop' };

class Fail {
  constructor(readonly code: ErrorCode) {}
}

const fail = (code: ErrorCode): never => {
  throw new Fail(code);
};

export class Model {
  config: { chunkSizeBytes: number; defaultReplication: number } | undefined;
  readonly root: Node = newNode(1, 'directory', 0o755, 0, 0, 0, 0, false);
  readonly inodes = new Map<number, Node>([[1, this.root]]);
  readonly chunks = new Map<number, Chunk>();
  trash: { node: Node; deletedAtUs: number }[] = [];
  readonly sessions = new Map<string, { results: Map<number, Recorded>; forgottenBelow: number; lastSeenUs: number }>();
  nextInode = 2;
  nextHandle = 1;

  apply(timeUs: number, request: { clientId: string; seq: number } | undefined, op: ModelOp): ModelResult {
    if (request !== undefined) {
      const session = this.sessions.get(request.clientId);
      const recorded = session?.results.get(request.seq);
      if (recorded !== undefined) return this.reply(recorded, true);
      if (session !== undefined && request.seq < session.forgottenBelow) return { ok: false, code: 'INVALID_ARGUMENT', duplicate: false };
    }
    if (this.config === undefined && op.op !== 'initCluster' && op.op !== 'noop') return { ok: false, code: 'UNAVAILABLE', duplicate: false };
    let outcome: Recorded;
    try {
      outcome = this.run(timeUs, op);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      outcome = { kind: 'error', code: err.code };
    }
    if (request !== undefined) this.record(request.clientId, request.seq, timeUs, outcome);
    return this.reply(outcome, false);
  }

  attr(node: Node): ModelAttr {
    let subdirectories = 0;
    for (const child of node.children.values()) if (child.kind === 'directory') subdirectories++;
    return {
      inode: node.id,
      kind: node.kind,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      size: node.size,
      nlink: node.kind === 'directory' ? 2 + subdirectories : node.links,
      atimeUs: node.atimeUs,
      mtimeUs: node.mtimeUs,
      ctimeUs: node.ctimeUs,
      replication: node.replication,
      replicateAll: node.replicateAll,
      chunkCount: node.chunks.length,
      rdev: 0,
    };
  }

  /** The node at a valid path, or undefined. */
  lookup(path: string): Node | undefined {
    const parts = parse(path);
    if (typeof parts === 'string') return undefined;
    let node: Node | undefined = this.root;
    for (const part of parts) node = node?.children.get(part);
    return node;
  }

  /** Every live path, depth first. */
  paths(): string[] {
    const out: string[] = [];
    const walk = (node: Node, path: string): void => {
      for (const [name, child] of node.children) {
        const childPath = `${path}/${name}`;
        out.push(childPath);
        walk(child, childPath);
      }
    };
    walk(this.root, '');
    return out;
  }

  private record(clientId: string, seq: number, timeUs: number, outcome: Recorded): void {
    let session = this.sessions.get(clientId);
    if (session === undefined) {
      session = { results: new Map(), forgottenBelow: 0, lastSeenUs: timeUs };
      this.sessions.set(clientId, session);
    }
    session.lastSeenUs = Math.max(session.lastSeenUs, timeUs);
    if (session.results.size === LIMITS.sessionResultsPerClient) {
      const smallest = Math.min(...session.results.keys());
      if (seq < smallest) {
        session.forgottenBelow = Math.max(session.forgottenBelow, seq + 1);
        return;
      }
      session.results.delete(smallest);
      session.forgottenBelow = Math.max(session.forgottenBelow, smallest + 1);
    }
    session.results.set(seq, outcome);
  }

  private reply(outcome: Recorded, duplicate: boolean): ModelResult {
    switch (outcome.kind) {
      case 'error':
        return { ok: false, code: outcome.code, duplicate };
      case 'none':
        return { ok: true, value: { kind: 'none' }, duplicate };
      case 'attr': {
        const node = this.inodes.get(outcome.inode);
        if (node === undefined) return { ok: false, code: 'NOT_FOUND', duplicate };
        return { ok: true, value: { kind: 'attr', attr: this.attr(node) }, duplicate };
      }
      case 'chunk': {
        const node = this.inodes.get(outcome.inode);
        const handle = node?.chunks[outcome.index] ?? 0;
        if (node === undefined || handle === 0) return { ok: false, code: 'NOT_FOUND', duplicate };
        const chunk = { index: outcome.index, handle, version: this.chunks.get(handle)!.version };
        return { ok: true, value: { kind: 'chunk', attr: this.attr(node), chunk }, duplicate };
      }
      case 'version':
        return { ok: true, value: { kind: 'version', handle: outcome.handle, version: outcome.version }, duplicate };
      case 'purged':
        return { ok: true, value: { ...outcome }, duplicate };
    }
  }

  private run(t: number, op: ModelOp): Recorded {
    switch (op.op) {
      case 'noop':
        return { kind: 'none' };
      case 'initCluster': {
        if (this.config === undefined) {
          const size = op.chunkSizeBytes;
          if (size < 65536 || size > 2 ** 30 || (size & (size - 1)) !== 0) fail('INVALID_ARGUMENT');
          if (op.defaultReplication < 1 || op.defaultReplication > LIMITS.replicationMax) fail('INVALID_ARGUMENT');
          this.config = { chunkSizeBytes: size, defaultReplication: op.defaultReplication };
          this.root.atimeUs = this.root.mtimeUs = this.root.ctimeUs = t;
        }
        return { kind: 'attr', inode: 1 };
      }
      case 'mkdir': {
        const parts = parseOrFail(op.path);
        if (parts.length === 0) {
          if (op.parents) return { kind: 'attr', inode: 1 };
          fail('ALREADY_EXISTS');
        }
        let dir = this.root;
        let i = 0;
        for (; i < parts.length - 1; i++) {
          const next = dir.children.get(parts[i]!);
          if (next === undefined) {
            if (!op.parents) fail('NOT_FOUND');
            break;
          }
          if (next.kind !== 'directory') fail('NOT_A_DIRECTORY');
          dir = next!;
        }
        if (i === parts.length - 1) {
          const existing = dir.children.get(parts[i]!);
          if (existing !== undefined) {
            if (op.parents && existing.kind === 'directory') return { kind: 'attr', inode: existing.id };
            fail('ALREADY_EXISTS');
          }
        }
        for (; i < parts.length; i++) {
          const node = newNode(this.nextInode++, 'directory', op.mode & 0o7777, op.uid, op.gid, t, 0, false);
          this.link(dir, parts[i]!, node, t);
          dir = node;
        }
        return { kind: 'attr', inode: dir.id };
      }
      case 'create': {
        // Arguments before the path, as the state machine reads them.
        if (op.replication > LIMITS.replicationMax) fail('INVALID_ARGUMENT');
        const parts = parseOrFail(op.path);
        if (parts.length === 0) fail(op.exclusive ? 'ALREADY_EXISTS' : 'IS_A_DIRECTORY');
        const dir = this.parentOf(parts);
        const name = parts[parts.length - 1]!;
        const existing = dir.children.get(name);
        if (existing !== undefined) {
          if (op.exclusive) fail('ALREADY_EXISTS');
          if (existing.kind === 'directory') fail('IS_A_DIRECTORY');
          return { kind: 'attr', inode: existing.id };
        }
        const replication = op.replication === 0 ? this.config!.defaultReplication : op.replication;
        const node = newNode(this.nextInode++, 'file', op.mode & 0o7777, op.uid, op.gid, t, replication, op.replicateAll);
        this.link(dir, name, node, t);
        return { kind: 'attr', inode: node.id };
      }
      case 'delete': {
        const parts = parseOrFail(op.path);
        if (parts.length === 0) fail('INVALID_ARGUMENT');
        const dir = this.parentOf(parts);
        const name = parts[parts.length - 1]!;
        const node = dir.children.get(name) ?? fail('NOT_FOUND');
        if (!op.recursive && node.children.size > 0) fail('NOT_EMPTY');
        this.unlink(dir, name, node, t);
        return { kind: 'none' };
      }
      case 'rename': {
        const from = parseOrFail(op.source);
        const to = parseOrFail(op.destination);
        if (from.length === 0 || to.length === 0) fail('INVALID_ARGUMENT');
        const fromDir = this.parentOf(from);
        const toDir = this.parentOf(to);
        const fromName = from[from.length - 1]!;
        const node = fromDir.children.get(fromName) ?? fail('NOT_FOUND');
        const toName = to[to.length - 1]!;
        const replaced = toDir.children.get(toName);
        if (replaced !== undefined && op.noReplace) fail('ALREADY_EXISTS');
        // Path prefixes: the source holds the new parent, or the replaced directory holds the old one.
        const holds = (outer: readonly string[], inner: readonly string[]) => inner.length >= outer.length && outer.every((p, i) => inner[i] === p);
        if (node.kind === 'directory' && holds(from, to.slice(0, -1))) fail('INVALID_ARGUMENT');
        if (replaced?.kind === 'directory' && holds(to, from.slice(0, -1))) fail('NOT_EMPTY');
        if (replaced === node) return { kind: 'none' };
        if (replaced !== undefined) {
          if (node.kind === 'directory' && replaced.kind === 'file') fail('NOT_A_DIRECTORY');
          if (node.kind === 'file' && replaced.kind === 'directory') fail('IS_A_DIRECTORY');
          if (replaced.children.size > 0) fail('NOT_EMPTY');
          this.unlink(toDir, toName, replaced, t);
        }
        fromDir.children.delete(fromName);
        toDir.children.set(toName, node);
        fromDir.mtimeUs = fromDir.ctimeUs = t;
        toDir.mtimeUs = toDir.ctimeUs = t;
        node.ctimeUs = t;
        return { kind: 'none' };
      }
      case 'setAttr': {
        if (op.replication !== undefined && op.replication > LIMITS.replicationMax) fail('INVALID_ARGUMENT');
        const parts = parseOrFail(op.path);
        const dir = parts.length === 0 ? undefined : this.parentOf(parts);
        const node = dir === undefined ? this.root : (dir.children.get(parts[parts.length - 1]!) ?? fail('NOT_FOUND'));
        if (node.kind === 'directory' && (op.replication !== undefined || op.replicateAll !== undefined)) fail('INVALID_ARGUMENT');
        if (op.mode !== undefined) node.mode = op.mode & 0o7777;
        if (op.uid !== undefined) node.uid = op.uid;
        if (op.gid !== undefined) node.gid = op.gid;
        if (op.atimeUs !== undefined) node.atimeUs = op.atimeUs;
        if (op.mtimeUs !== undefined) node.mtimeUs = op.mtimeUs;
        if (op.replication !== undefined) node.replication = op.replication === 0 ? this.config!.defaultReplication : op.replication;
        if (op.replicateAll !== undefined) node.replicateAll = op.replicateAll;
        node.ctimeUs = t;
        return { kind: 'attr', inode: node.id };
      }
      case 'link': {
        if (op.name === '' || op.name === '.' || op.name === '..' || op.name.includes('/')) fail('INVALID_ARGUMENT');
        const node = this.inodes.get(op.inode) ?? fail('NOT_FOUND');
        const dir = this.inodes.get(op.parent) ?? fail('NOT_FOUND');
        if (dir.kind !== 'directory') fail('NOT_A_DIRECTORY');
        if (!this.reachable(dir)) fail('NOT_FOUND');
        if (dir.children.has(op.name)) fail('ALREADY_EXISTS');
        if (node.kind === 'directory') fail('NOT_PERMITTED');
        if (node.links === 0) fail('NOT_FOUND');
        this.link(dir, op.name, node, t);
        node.ctimeUs = t;
        return { kind: 'attr', inode: node.id };
      }
      case 'truncate': {
        const node = this.file(op.inode);
        const chunkSize = this.config!.chunkSizeBytes;
        if (op.size > LIMITS.chunksPerFileMax * chunkSize) fail('TOO_LARGE');
        const keep = Math.ceil(op.size / chunkSize);
        for (const handle of node.chunks.slice(keep)) if (handle !== 0) this.release(handle);
        node.chunks = node.chunks.slice(0, keep);
        while (node.chunks.length > 0 && node.chunks[node.chunks.length - 1] === 0) node.chunks.pop();
        node.size = op.size;
        node.mtimeUs = node.ctimeUs = t;
        return { kind: 'attr', inode: node.id };
      }
      case 'allocateChunk': {
        const node = this.file(op.inode);
        if (op.index >= LIMITS.chunksPerFileMax) fail('TOO_LARGE');
        if ((node.chunks[op.index] ?? 0) === 0) {
          const handle = this.nextHandle++;
          this.chunks.set(handle, { version: 0, confirmedVersion: 0, refCount: 1, inode: node.id, index: op.index });
          while (node.chunks.length <= op.index) node.chunks.push(0);
          node.chunks[op.index] = handle;
        }
        return { kind: 'chunk', inode: node.id, index: op.index };
      }
      case 'commitWrite': {
        const node = this.file(op.inode);
        if (op.endOffset > LIMITS.chunksPerFileMax * this.config!.chunkSizeBytes) fail('TOO_LARGE');
        node.size = Math.max(node.size, op.endOffset);
        node.mtimeUs = node.ctimeUs = t;
        return { kind: 'attr', inode: node.id };
      }
      case 'bumpVersion': {
        const chunk = this.chunks.get(op.handle) ?? fail('NOT_FOUND');
        if (op.version <= chunk.version) fail('STALE_VERSION');
        chunk.version = op.version;
        return { kind: 'version', handle: op.handle, version: op.version };
      }
      case 'confirmVersion': {
        const chunk = this.chunks.get(op.handle) ?? fail('NOT_FOUND');
        if (op.version > chunk.version) fail('INVALID_ARGUMENT');
        if (op.version < chunk.confirmedVersion) fail('STALE_VERSION');
        chunk.confirmedVersion = op.version;
        return { kind: 'version', handle: op.handle, version: op.version };
      }
      case 'purgeTrash': {
        let inodes = 0;
        let chunks = 0;
        const kept: typeof this.trash = [];
        for (const entry of this.trash) {
          if (entry.deletedAtUs >= op.deletedBeforeUs) {
            kept.push(entry);
            continue;
          }
          const stack = [{ node: entry.node, viaEntry: false }];
          for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
            const node = next.node;
            for (const child of node.children.values()) stack.push({ node: child, viaEntry: true });
            if (node.kind === 'file') {
              if (next.viaEntry) node.links--;
              if (node.links > 0) continue;
            }
            for (const handle of node.chunks) if (handle !== 0 && this.release(handle)) chunks++;
            this.inodes.delete(node.id);
            inodes++;
          }
        }
        this.trash = kept;
        let sessions = 0;
        for (const [clientId, session] of this.sessions) {
          if (session.lastSeenUs < op.sessionsIdleBeforeUs) {
            this.sessions.delete(clientId);
            sessions++;
          }
        }
        return { kind: 'purged', inodes, chunks, sessions };
      }
    }
  }

  private release(handle: number): boolean {
    const chunk = this.chunks.get(handle)!;
    chunk.refCount--;
    if (chunk.refCount > 0) return false;
    this.chunks.delete(handle);
    return true;
  }

  private file(inode: number): Node {
    const node = this.inodes.get(inode) ?? fail('NOT_FOUND');
    if (node.kind === 'directory') fail('IS_A_DIRECTORY');
    return node;
  }

  private parentOf(parts: readonly string[]): Node {
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      const next = dir.children.get(part) ?? fail('NOT_FOUND');
      if (next.kind !== 'directory') fail('NOT_A_DIRECTORY');
      dir = next;
    }
    return dir;
  }

  /** Whether a directory hangs under the root (not in the trash). */
  private reachable(dir: Node): boolean {
    const stack = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node === dir) return true;
      for (const child of node.children.values()) if (child.kind === 'directory') stack.push(child);
    }
    return false;
  }

  private link(dir: Node, name: string, node: Node, t: number): void {
    dir.children.set(name, node);
    dir.mtimeUs = dir.ctimeUs = t;
    node.links++;
    this.inodes.set(node.id, node);
  }

  /** A directory, or a file's last link, goes to the trash; a file's ctime records the lost link. */
  private unlink(dir: Node, name: string, node: Node, t: number): void {
    dir.children.delete(name);
    dir.mtimeUs = dir.ctimeUs = t;
    if (node.kind === 'file') {
      node.links--;
      node.ctimeUs = t;
      if (node.links > 0) return;
    }
    this.trash.push({ node, deletedAtUs: t });
  }
}

function newNode(id: number, kind: 'file' | 'directory', mode: number, uid: number, gid: number, t: number, replication: number, replicateAll: boolean): Node {
  return { id, kind, mode, uid, gid, size: 0, atimeUs: t, mtimeUs: t, ctimeUs: t, replication, replicateAll, children: new Map(), chunks: [], links: 0 };
}

/** The components of a canonical absolute path, or the error code for a bad one. */
export function parse(path: string): string[] | ErrorCode {
  if (path.length === 0 || !path.startsWith('/')) return 'INVALID_ARGUMENT';
  if (Buffer.byteLength(path) > LIMITS.pathMaxBytes) return 'NAME_TOO_LONG';
  if (path === '/') return [];
  const parts = path.slice(1).split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..' || part.includes('\0')) return 'INVALID_ARGUMENT';
    if (Buffer.byteLength(part) > LIMITS.nameMaxBytes) return 'NAME_TOO_LONG';
  }
  return parts;
}

function parseOrFail(path: string): string[] {
  const parts = parse(path);
  return typeof parts === 'string' ? fail(parts) : parts;
}
