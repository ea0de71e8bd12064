import { expect } from 'chai';

import type { InodeId } from '../../../common/ids.js';
import { LIMITS } from '../../../common/limits.js';
import { encodeEntry, entries, type LogEntry, type RequestIdInput } from '../../../master/log-entry.js';
import { type ApplyResult, MasterStateMachine } from '../../../master/state-machine.js';
import { CHUNK, prng, T0 } from './harness.js';
import { Model, type ModelAttr, type ModelOp, type ModelResult } from './model.js';

const OPS_PER_SEED = Number(process.env['DFS_RANDOM_OPS'] ?? 4000);
const SEEDS = process.env['DFS_RANDOM_SEED'] !== undefined ? [Number(process.env['DFS_RANDOM_SEED'])] : [1, 2, 3];
const FULL_CHECK_EVERY = 50;
const FILE_MAX = LIMITS.chunksPerFileMax * CHUNK;

function entryOf(timeUs: number, request: RequestIdInput | undefined, op: ModelOp): LogEntry {
  switch (op.op) {
    case 'initCluster':
      return entries.initCluster(timeUs, request, { chunkSizeBytes: op.chunkSizeBytes, defaultReplication: op.defaultReplication, clusterId: op.clusterId });
    case 'mkdir':
      return entries.mkdir(timeUs, request, { path: op.path, mode: op.mode, uid: op.uid, gid: op.gid, parents: op.parents });
    case 'create': {
      const { path, mode, uid, gid, exclusive, replication, replicateAll } = op;
      return entries.create(timeUs, request, { path, mode, uid, gid, exclusive, replication, replicateAll });
    }
    case 'delete':
      return entries.delete(timeUs, request, { path: op.path, recursive: op.recursive });
    case 'rename':
      return entries.rename(timeUs, request, { source: op.source, destination: op.destination, noReplace: op.noReplace });
    case 'setAttr': {
      const { op: _, ...fields } = op;
      return entries.setAttr(timeUs, request, fields);
    }
    case 'link':
      return entries.link(timeUs, request, { inode: op.inode, newParent: op.parent, newName: op.name });
    case 'truncate':
      return entries.truncate(timeUs, request, { inode: op.inode, size: op.size });
    case 'allocateChunk':
      return entries.allocateChunk(timeUs, request, { inode: op.inode, index: op.index });
    case 'commitWrite':
      return entries.commitWrite(timeUs, request, { inode: op.inode, endOffset: op.endOffset });
    case 'bumpVersion':
      return entries.bumpVersion(timeUs, request, { handle: op.handle, version: op.version });
    case 'confirmVersion':
      return entries.confirmVersion(timeUs, request, { handle: op.handle, version: op.version });
    case 'purgeTrash':
      return entries.purgeTrash(timeUs, request, { deletedBeforeUs: op.deletedBeforeUs, sessionsIdleBeforeUs: op.sessionsIdleBeforeUs });
    case 'noop':
      return entries.noop(timeUs, request);
  }
}

/** Random operations, valid and not, biased toward names that collide. */
class Generator {
  constructor(
    private readonly random: () => number,
    private readonly model: Model,
  ) {}

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  path(): string {
    const existing = this.model.paths();
    const r = this.random();
    if (r < 0.45 && existing.length > 0) {
      const base = this.pick(existing);
      return this.chance(0.4) ? `${base}/${this.name()}` : base;
    }
    if (r < 0.85) {
      const depth = 1 + this.int(3);
      return '/' + Array.from({ length: depth }, () => this.name()).join('/');
    }
    return this.pick([
      '/',
      '',
      'a',
      'a/b',
      '/a/',
      '//a',
      '/a//b',
      '/a/./b',
      '/a/../b',
      '/..',
      '/a\0b',
      `/${'x'.repeat(256)}`,
      `/${'y'.repeat(255)}`,
      `/a/${'é'.repeat(128)}`,
      '/' + Array.from({ length: 21 }, () => 'z'.repeat(200)).join('/'),
      '/\u00e9t\u00e9',
      '/\ud83d\ude00',
    ]);
  }

  name(): string {
    return this.pick(['a', 'b', 'c', 'd', 'e']);
  }

  inode(): number {
    const ids = [...this.model.inodes.keys()];
    return this.chance(0.85) ? this.pick(ids) : this.pick([0, this.model.nextInode, this.model.nextInode + 7, 1]);
  }

  handle(): number {
    const handles = [...this.model.chunks.keys()];
    return handles.length > 0 && this.chance(0.85) ? this.pick(handles) : this.pick([0, this.model.nextHandle, this.model.nextHandle + 3]);
  }

  size(): number {
    return this.pick([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 7 * CHUNK, FILE_MAX, FILE_MAX + 1]);
  }

  replication(): number {
    return this.pick([0, 0, 1, 2, 3, LIMITS.replicationMax, LIMITS.replicationMax + 1]);
  }

  op(timeUs: number): ModelOp {
    const mode = this.pick([0o755, 0o644, 0o40777, 0o7777, 0]);
    const uid = this.int(3);
    const gid = this.int(3);
    if (this.chance(0.07)) {
      // Hard links, mostly of files into directories that exist (live or in the trash).
      const directories = [...this.model.inodes.values()].filter((n) => n.kind === 'directory').map((n) => n.id);
      const parent = this.chance(0.9) ? this.pick(directories) : this.inode();
      return { op: 'link', inode: this.inode(), parent, name: this.chance(0.95) ? this.name() : this.pick(['', '..', 'a/b']) };
    }
    const r = this.random();
    if (r < 0.14) return { op: 'mkdir', path: this.path(), mode, uid, gid, parents: this.chance(0.3) };
    if (r < 0.3) {
      return { op: 'create', path: this.path(), mode, uid, gid, exclusive: this.chance(0.3), replication: this.replication(), replicateAll: this.chance(0.2) };
    }
    if (r < 0.38) return { op: 'delete', path: this.path(), recursive: this.chance(0.4) };
    if (r < 0.5) return { op: 'rename', source: this.path(), destination: this.path(), noReplace: this.chance(0.2) };
    if (r < 0.57) {
      const op: ModelOp = { op: 'setAttr', path: this.path() };
      if (this.chance(0.4)) op.mode = mode;
      if (this.chance(0.3)) op.uid = uid;
      if (this.chance(0.3)) op.gid = gid;
      if (this.chance(0.2)) op.atimeUs = timeUs - this.int(1000);
      if (this.chance(0.2)) op.mtimeUs = -this.int(1000);
      if (this.chance(0.2)) op.replication = this.replication();
      if (this.chance(0.15)) op.replicateAll = this.chance(0.5);
      return op;
    }
    if (r < 0.63) return { op: 'truncate', inode: this.inode(), size: this.size() };
    if (r < 0.73) {
      // Far indices are slow to check on every op; file-data.test.ts covers LIMITS.chunksPerFileMax - 1.
      const index = this.chance(0.95) ? this.int(7) : this.pick([70, 200, LIMITS.chunksPerFileMax]);
      return { op: 'allocateChunk', inode: this.inode(), index };
    }
    if (r < 0.79) return { op: 'commitWrite', inode: this.inode(), endOffset: this.size() };
    if (r < 0.86) {
      const handle = this.handle();
      const version = (this.model.chunks.get(handle)?.version ?? 0) + this.pick([-1, 0, 1, 1, 2]);
      return { op: 'bumpVersion', handle, version: Math.max(0, version) };
    }
    if (r < 0.9) {
      const handle = this.handle();
      const chunk = this.model.chunks.get(handle);
      const version = Math.max(0, (chunk?.confirmedVersion ?? 0) + this.pick([-1, 0, 1, 2]));
      return { op: 'confirmVersion', handle, version };
    }
    if (r < 0.94) {
      return { op: 'purgeTrash', deletedBeforeUs: timeUs - this.int(300), sessionsIdleBeforeUs: this.chance(0.1) ? timeUs - this.int(2000) : 0 };
    }
    if (r < 0.96) return { op: 'initCluster', chunkSizeBytes: this.pick([CHUNK, 1000]), defaultReplication: this.int(4), clusterId: 'again' };
    return { op: 'noop' };
  }
}

function expectSameAttr(actual: object, expected: ModelAttr, where: string): void {
  expect(actual, where).to.deep.equal(expected);
}

function compareResult(actual: ApplyResult, expected: ModelResult, where: string): void {
  if (!expected.ok) {
    expect(actual.ok ? `ok (${actual.value.kind})` : actual.error.code, `${where}: ${actual.ok ? '' : actual.error.message}`).to.equal(expected.code);
  } else {
    if (!actual.ok) expect.fail(`${where}: expected success, got ${actual.error.code}: ${actual.error.message}`);
    const value = actual.value;
    expect(value.kind, where).to.equal(expected.value.kind);
    const want = expected.value;
    if ((value.kind === 'attr' || value.kind === 'chunk') && (want.kind === 'attr' || want.kind === 'chunk')) expectSameAttr(value.attr, want.attr, where);
    if (value.kind === 'chunk' && want.kind === 'chunk') expect(value.chunk, where).to.deep.equal(want.chunk);
    if (value.kind === 'version' || value.kind === 'purged' || value.kind === 'none') expect(value, where).to.deep.equal(want);
  }
  expect(actual.duplicate, `${where}: duplicate`).to.equal(expected.duplicate);
}

/** Compares everything observable: the tree by path, every inode by id, chunks, counts. */
function compareState(sm: MasterStateMachine, model: Model, where: string): void {
  const walk = (path: string): void => {
    const listed = sm.list(path, '', 0);
    const node = model.lookup(path)!;
    expect(listed.entries.map((e) => e.name), `${where}: list ${path}`).to.deep.equal([...node.children.keys()].sort());
    for (const { name, attr } of listed.entries) {
      const child = `${path === '/' ? '' : path}/${name}`;
      expectSameAttr(attr, model.attr(node.children.get(name)!), `${where}: ${child}`);
      if (attr.kind === 'directory') walk(child);
    }
  };
  walk('/');
  for (const [id, node] of model.inodes) {
    expectSameAttr(sm.statInode(id as InodeId), model.attr(node), `${where}: inode ${id}`);
    if (node.kind === 'file') {
      // Chunk by chunk: a file may reach index LIMITS.chunksPerFileMax - 1, far past one page.
      node.chunks.forEach((handle, index) => {
        if (handle === 0) return;
        const expected = [{ index, handle, version: model.chunks.get(handle)!.version }];
        expect(sm.getChunks(id as InodeId, index, 1).chunks, `${where}: chunk ${index} of ${id}`).to.deep.equal(expected);
      });
      const firstPage = node.chunks.slice(0, LIMITS.chunksPageMax).filter((handle) => handle !== 0).length;
      expect(sm.getChunks(id as InodeId, 0, 0).chunks.length, `${where}: first page of ${id}`).to.equal(firstPage);
    }
  }
  const chunks: unknown[] = [];
  sm.forEachChunk((handle) => chunks.push([handle, sm.chunk(handle)]));
  const expectedChunks = [...model.chunks.entries()].sort((a, b) => a[0] - b[0]);
  expect(chunks, `${where}: chunk table`).to.deep.equal(expectedChunks);
  let files = 0;
  for (const node of model.inodes.values()) if (node.kind === 'file') files++;
  expect(sm.counts(), `${where}: counts`).to.deep.equal({
    files,
    directories: model.inodes.size - files,
    chunks: model.chunks.size,
    trash: model.trash.length,
    sessions: model.sessions.size,
  });
}

function run(seed: number): void {
  const random = prng(seed);
  const model = new Model();
  const generate = new Generator(random, model);
  let sm = new MasterStateMachine();
  let time = T0;
  const clients = ['c1', 'c2', 'c3'];
  const nextSeq = new Map(clients.map((c) => [c, 1]));
  const pending = new Map<string, number>();
  const sent: { request: { clientId: string; seq: number }; op: ModelOp }[] = [];
  const step = (i: number, request: { clientId: string; seq: number } | undefined, op: ModelOp): void => {
    const timeUs = time;
    time += 1 + generate.int(3);
    const where = `seed ${seed}, op #${i} ${JSON.stringify({ timeUs, request, ...op })}`;
    const expected = model.apply(timeUs, request, op);
    const actual = sm.applyEncoded(encodeEntry(entryOf(timeUs, request, op)));
    compareResult(actual, expected, where);
    sm.checkInvariants();
    if (i % FULL_CHECK_EVERY === 0) {
      compareState(sm, model, where);
      const bytes = sm.snapshot();
      const restored = MasterStateMachine.restore(bytes);
      expect(restored.snapshot().equals(bytes), `${where}: snapshot round trip`).to.equal(true);
      // Carry on with the restored copy: it must behave exactly as the original.
      if (generate.chance(0.5)) sm = restored;
    }
  };

  step(0, undefined, { op: 'mkdir', path: '/a', mode: 0o755, uid: 0, gid: 0, parents: false });
  step(1, undefined, { op: 'initCluster', chunkSizeBytes: CHUNK, defaultReplication: 3, clusterId: `seed-${seed}` });
  for (let i = 2; i < OPS_PER_SEED; i++) {
    const r = random();
    if (r < 0.05 && sent.length > 0) {
      // A retry: the same request again, maybe long after.
      const earlier = generate.pick(sent.slice(-400));
      step(i, earlier.request, earlier.op);
    } else if (r < 0.07) {
      // A request from the far past: below the window once it has moved on.
      const clientId = generate.pick(clients);
      step(i, { clientId, seq: generate.int(5) }, generate.op(time));
    } else if (r < 0.5) {
      const clientId = generate.pick(clients);
      // Mostly in order; now and then two requests swap places (pipelined requests).
      const next = nextSeq.get(clientId)!;
      let seq = next;
      const held = pending.get(clientId);
      if (held !== undefined) {
        seq = held;
        pending.delete(clientId);
      } else if (generate.chance(0.05)) {
        seq = next + 1;
        pending.set(clientId, next);
        nextSeq.set(clientId, next + 2);
      } else {
        nextSeq.set(clientId, next + 1);
      }
      const request = { clientId, seq };
      const op = generate.op(time);
      sent.push({ request, op });
      step(i, request, op);
    } else {
      step(i, undefined, generate.op(time));
    }
  }
  compareState(sm, model, `seed ${seed}, end`);
}

describe('master state machine: randomized against a reference model', function () {
  this.timeout(300_000);
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS_PER_SEED} random operations agree with the model (DFS_RANDOM_SEED=${seed} to rerun)`, () => {
      try {
        run(seed);
      } catch (err) {
        if (err instanceof Error) err.message = `[DFS_RANDOM_SEED=${seed}] ${err.message}`;
        throw err;
      }
    });
  }
});
