import { expect } from 'chai';

import type { ErrorCode } from '../../../common/errors.js';
import { type InodeId, ROOT_INODE } from '../../../common/ids.js';
import type { FileKind } from '../../../proto/generated/dfs/FileKind.js';
import type { AttrView, ChunkView } from '../../../master/attr.js';
import { encodeEntry, entries, type LogEntry, type RequestIdInput } from '../../../master/log-entry.js';
import type { SetAttr } from '../../../proto/generated/dfs/masterlog/SetAttr.js';
import { type ApplyResult, type ApplyValue, MasterStateMachine } from '../../../master/state-machine.js';

export const CHUNK = 64 * 1024;
export const T0 = 1_700_000_000_000_000;

/**
 * A state machine under test: every entry goes through the wire encoding, and
 * every apply is followed by checkInvariants() and a snapshot round trip
 * check when `roundTrip` is set.
 */
export class Harness {
  sm = new MasterStateMachine();
  time = T0;
  roundTrip = true;

  /** Applies an entry built by `build(timeUs)`; the clock advances by 1 µs per entry. */
  apply(build: (timeUs: number) => LogEntry): ApplyResult {
    const timeUs = this.time++;
    const result = this.sm.applyEncoded(encodeEntry(build(timeUs)));
    this.sm.checkInvariants();
    if (this.roundTrip) {
      const bytes = this.sm.snapshot();
      const restored = MasterStateMachine.restore(bytes);
      expect(restored.snapshot().equals(bytes), 'restore(snapshot) gives the same bytes').to.equal(true);
    }
    return result;
  }

  init(chunkSizeBytes = CHUNK, defaultReplication = 3): this {
    ok(this.apply((t) => entries.initCluster(t, undefined, { chunkSizeBytes, defaultReplication, clusterId: 'test' })));
    return this;
  }

  mkdir(path: string, options: { mode?: number; uid?: number; gid?: number; parents?: boolean } = {}, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.mkdir(t, request, { path, mode: 0o755, ...options }));
  }

  create(
    path: string,
    options: { mode?: number; uid?: number; gid?: number; exclusive?: boolean; replication?: number; replicateAll?: boolean } = {},
    request?: RequestIdInput,
  ): ApplyResult {
    return this.apply((t) => entries.create(t, request, { path, mode: 0o644, ...options }));
  }

  delete(path: string, recursive = false, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.delete(t, request, { path, recursive }));
  }

  rename(source: string, destination: string, noReplace = false, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.rename(t, request, { source, destination, noReplace }));
  }

  /** Creates a file and returns its inode. */
  file(path: string): InodeId {
    return attrOf(this.create(path)).inode;
  }

  /** Makes a directory (with parents) and returns its inode. */
  dir(path: string): InodeId {
    return attrOf(this.mkdir(path, { parents: true })).inode;
  }

  allocate(inode: number, index: number, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.allocateChunk(t, request, { inode, index }));
  }

  truncate(inode: number, size: number | string, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.truncate(t, request, { inode, size }));
  }

  commit(inode: number, endOffset: number | string, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.commitWrite(t, request, { inode, endOffset }));
  }

  bump(handle: number, version: number | string, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.bumpVersion(t, request, { handle, version }));
  }

  purge(deletedBeforeUs: number, sessionsIdleBeforeUs = 0, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.purgeTrash(t, request, { deletedBeforeUs, sessionsIdleBeforeUs }));
  }

  // ----- by inode -----

  makeNode(
    parent: number,
    name: string,
    spec: { kind?: FileKind; mode?: number; rdev?: number; target?: string; exclusive?: boolean; uid?: number; gid?: number } = {},
    caller?: Caller,
    request?: RequestIdInput,
  ): ApplyResult {
    return this.apply((t) => entries.makeNode(t, request, { parent, name, kind: 'FILE_KIND_FILE', mode: 0o644, ...spec, ...(caller ? { caller } : {}) }));
  }

  /** Makes a node and returns its inode. */
  node(parent: number, name: string, kind: FileKind, mode = 0o755, caller?: Caller): InodeId {
    return attrOf(this.makeNode(parent, name, { kind, mode, ...(kind === 'FILE_KIND_SYMLINK' ? { target: 'somewhere' } : {}) }, caller)).inode;
  }

  link(inode: number, newParent: number, newName: string, caller?: Caller, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.link(t, request, { inode, newParent, newName, ...(caller ? { caller } : {}) }));
  }

  remove(parent: number, name: string, directory = false, caller?: Caller, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.remove(t, request, { parent, name, directory, ...(caller ? { caller } : {}) }));
  }

  renameAt(
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: { noReplace?: boolean; exchange?: boolean } = {},
    caller?: Caller,
    request?: RequestIdInput,
  ): ApplyResult {
    return this.apply((t) => entries.renameAt(t, request, { parent, name, newParent, newName, ...flags, ...(caller ? { caller } : {}) }));
  }

  setAttrInode(inode: number, changes: Omit<SetAttr, 'inode' | 'path' | 'caller'>, caller?: Caller, request?: RequestIdInput): ApplyResult {
    return this.apply((t) => entries.setAttr(t, request, { inode, ...changes, ...(caller ? { caller } : {}) }));
  }

  /** The attributes of the entry `name` of `parent`, as root sees them. */
  at(parent: number, name: string): AttrView {
    return this.sm.lookup(parent as InodeId, name);
  }

  /** Asserts that `run` fails with `code` and leaves the snapshot byte-identical. */
  fails(code: ErrorCode, run: () => ApplyResult): ApplyResult {
    const before = this.sm.snapshot();
    const result = run();
    expectError(result, code);
    expect(this.sm.snapshot().equals(before), `a failed ${code} changed the state`).to.equal(true);
    return result;
  }

  /** Asserts that `run` succeeds without changing the state at all. */
  unchanged(run: () => ApplyResult): ApplyResult {
    const before = this.sm.snapshot();
    const result = ok(run());
    expect(this.sm.snapshot().equals(before), 'the state changed').to.equal(true);
    return result;
  }
}

/** A request's caller, as log entries carry it. */
export interface Caller {
  uid: number;
  gid: number;
  groups: number[];
}

/** A caller for permission tests; groups default to none. */
export function user(uid: number, gid = uid, groups: number[] = []): Caller {
  return { uid, gid, groups };
}

export const ROOT = user(0);
export { ROOT_INODE };

export function ok(result: ApplyResult): ApplyResult & { ok: true } {
  if (!result.ok) expect.fail(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result;
}

export function expectError(result: ApplyResult, code: ErrorCode): void {
  if (result.ok) expect.fail(`expected ${code}, got success (${result.value.kind})`);
  expect(result.error.code, result.error.message).to.equal(code);
}

export function valueOf(result: ApplyResult): ApplyValue {
  return ok(result).value;
}

export function attrOf(result: ApplyResult): AttrView {
  const value = valueOf(result);
  if (value.kind !== 'attr' && value.kind !== 'chunk') expect.fail(`expected an attr, got ${value.kind}`);
  return value.attr;
}

export function chunkOf(result: ApplyResult): ChunkView {
  const value = valueOf(result);
  if (value.kind !== 'chunk') expect.fail(`expected a chunk, got ${value.kind}`);
  return value.chunk;
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
