import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';

import { type Caller, DfsClient, DfsError, ROOT_INODE } from '../../client-lib/index.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import type { MetadataClient } from '../../proto/generated/dfs/master/Metadata.js';
import { expectStatus } from '../harness/expect-status.js';
import { rawClients } from '../harness/raw-clients.js';
import { FAST_MASTER_ARGS, TestCluster } from '../harness/test-cluster.js';

const MiB = 1024 * 1024;
const ROOT: Caller = { uid: 0, gid: 0, groups: [] };
const alice: Caller = { uid: 1000, gid: 1000, groups: [] };
const bob: Caller = { uid: 1001, gid: 1001, groups: [] };

/** Runs a call that must fail and checks the code and the errno a FUSE mount would answer. */
async function expectErrno(call: () => Promise<unknown>, code: string, errno: string): Promise<void> {
  let caught: unknown;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).to.be.instanceOf(DfsError);
  const error = caught as DfsError;
  expect(error.code, error.message).to.equal(code);
  expect(error.errno).to.equal(errno);
}

async function readAll(client: DfsClient, inode: number, caller: Caller): Promise<Buffer> {
  const file = await client.openInode(inode, caller);
  try {
    return await file.read(0, file.stat.size);
  } finally {
    await file.close();
  }
}

describe('a POSIX namespace by inode, on a real cluster, for two callers', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let root: DfsClient;
  let asAlice: DfsClient;
  const data = randomBytes(2 * MiB + 333);
  let srv: number;
  let home: number;
  let linked: number;
  let tmp: number;

  before(async () => {
    // Snapshots every 100 entries: the restart below recovers from a snapshot and a log suffix.
    cluster = await TestCluster.start({ chunkservers: 3, masterArgs: [...FAST_MASTER_ARGS, '--snapshot-every-entries', '100'] });
    root = await cluster.client({ caller: ROOT });
    asAlice = await cluster.client({ caller: alice });
  });
  after(async () => cluster?.stop());

  it('refuses uid 1000 in a root-owned 0755 directory (EACCES), and lets it work in its own', async () => {
    srv = (await root.makeNode(ROOT_INODE, 'srv', { kind: 'directory', mode: 0o755 })).inode;
    await expectErrno(() => asAlice.makeNode(srv, 'f', { kind: 'file', mode: 0o644 }), 'PERMISSION_DENIED', 'EACCES');
    await expectErrno(() => asAlice.mkdir('/srv/d'), 'PERMISSION_DENIED', 'EACCES');
    expect((await asAlice.lookup(ROOT_INODE, 'srv')).inode).to.equal(srv);

    home = (await root.makeNode(ROOT_INODE, 'home', { kind: 'directory', mode: 0o755 })).inode;
    home = (await root.makeNode(home, 'alice', { kind: 'directory', mode: 0o700 })).inode;
    expect(await root.setAttrInode(home, { uid: alice.uid, gid: alice.gid })).to.include({ uid: alice.uid, gid: alice.gid });
    const made = await asAlice.makeNode(home, 'data', { kind: 'file', mode: 0o640, exclusive: true });
    expect(made).to.include({ kind: 'file', uid: alice.uid, gid: alice.gid, mode: 0o640, nlink: 1 });
    await expectErrno(() => asAlice.makeNode(home, 'data', { kind: 'file', mode: 0o640, exclusive: true }), 'ALREADY_EXISTS', 'EEXIST');
    // Another user may not even look inside.
    await expectErrno(() => root.lookup(home, 'data', bob), 'PERMISSION_DENIED', 'EACCES');
    await expectErrno(() => root.readDir(home, '', 0, bob), 'PERMISSION_DENIED', 'EACCES');
  });

  it('a hard link survives the unlink of the first name, and the data stays readable through it', async () => {
    const first = await asAlice.lookup(home, 'data');
    const file = await asAlice.openInode(first.inode);
    await file.write(0, data);
    await file.close();
    const link = await asAlice.link(first.inode, home, 'data-link');
    expect(link).to.include({ inode: first.inode, nlink: 2 });
    await expectErrno(() => asAlice.link(home, home, 'dir-link'), 'NOT_PERMITTED', 'EPERM');
    await asAlice.remove(home, 'data', { directory: false });
    await expectErrno(() => asAlice.lookup(home, 'data'), 'NOT_FOUND', 'ENOENT');
    linked = (await asAlice.lookup(home, 'data-link')).inode;
    expect(linked).to.equal(first.inode);
    expect((await asAlice.statInode(linked)).nlink).to.equal(1);
    expect((await readAll(asAlice, linked, alice)).equals(data)).to.equal(true);
  });

  it('symlinks round-trip their target and are never followed; special files carry rdev; only root makes devices (EPERM)', async () => {
    const ln = await asAlice.makeNode(home, 'ln', { kind: 'symlink', mode: 0o777, target: 'data-link' });
    expect(ln).to.include({ kind: 'symlink', size: 'data-link'.length, mode: 0o777 });
    expect(await asAlice.readlink(ln.inode)).to.equal('data-link');
    await expectErrno(() => asAlice.stat('/home/alice/ln/x'), 'NOT_A_DIRECTORY', 'ENOTDIR');
    await expectErrno(() => asAlice.openInode(ln.inode), 'INVALID_ARGUMENT', 'EINVAL');
    expect(await asAlice.makeNode(home, 'pipe', { kind: 'fifo', mode: 0o600 })).to.include({ kind: 'fifo', rdev: 0 });
    await expectErrno(() => asAlice.makeNode(home, 'tty', { kind: 'char-device', mode: 0o600, rdev: 0x0504 }), 'NOT_PERMITTED', 'EPERM');
    expect(await root.makeNode(home, 'tty', { kind: 'char-device', mode: 0o600, rdev: 0x0504 })).to.include({ kind: 'char-device', rdev: 0x0504 });
    const names = (await asAlice.readDir(home, '', 0)).entries.map((e) => [e.name, e.attr.kind]);
    expect(names).to.deep.equal([
      ['data-link', 'file'],
      ['ln', 'symlink'],
      ['pipe', 'fifo'],
      ['tty', 'char-device'],
    ]);
    const page = await asAlice.readDir(home, 'data-link', 2);
    expect(page.entries.map((e) => e.name)).to.deep.equal(['ln', 'pipe']);
    expect(page.hasMore).to.equal(true);
  });

  it('enforces ownership: chmod and truncate by another user fail, the sticky /tmp protects entries', async () => {
    await expectErrno(() => root.setAttrInode(linked, { mode: 0o666 }, bob), 'NOT_PERMITTED', 'EPERM');
    const theirs = await root.openInode(linked, bob);
    await expectErrno(() => theirs.truncate(0), 'PERMISSION_DENIED', 'EACCES');
    await theirs.close();
    expect((await asAlice.statInode(linked)).size).to.equal(data.length);
    const touched = await asAlice.setAttrInode(linked, { atimeMs: 'now', mtimeMs: 'now' });
    expect(touched.mtimeMs).to.be.greaterThan(Date.now() - 60_000);

    tmp = (await root.makeNode(ROOT_INODE, 'tmp', { kind: 'directory', mode: 0o1777 })).inode;
    await asAlice.makeNode(tmp, 'alices', { kind: 'file', mode: 0o644 });
    await expectErrno(() => root.remove(tmp, 'alices', { directory: false }, bob), 'NOT_PERMITTED', 'EPERM');
    await expectErrno(() => root.renameAt(tmp, 'alices', tmp, 'bobs', {}, bob), 'NOT_PERMITTED', 'EPERM');
  });

  it('renames with Linux semantics: exchange, no-replace, and the errors of rename(2)', async () => {
    await asAlice.makeNode(home, 'sub', { kind: 'directory', mode: 0o755 });
    const subInode = (await asAlice.lookup(home, 'sub')).inode;
    await asAlice.makeNode(subInode, 'inner', { kind: 'file', mode: 0o644 });
    await asAlice.renameAt(home, 'pipe', subInode, 'inner', { exchange: true });
    expect((await asAlice.lookup(subInode, 'inner')).kind).to.equal('fifo');
    expect((await asAlice.lookup(home, 'pipe')).kind).to.equal('file');
    await expectErrno(() => asAlice.renameAt(home, 'pipe', subInode, 'inner', { noReplace: true }), 'ALREADY_EXISTS', 'EEXIST');
    await expectErrno(() => asAlice.renameAt(home, 'sub', subInode, 'loop', {}), 'INVALID_ARGUMENT', 'EINVAL');
    await expectErrno(() => asAlice.renameAt(home, 'pipe', home, 'sub', {}), 'IS_A_DIRECTORY', 'EISDIR');
    await expectErrno(() => asAlice.renameAt(subInode, 'inner', ROOT_INODE, 'home', {}, ROOT), 'NOT_EMPTY', 'ENOTEMPTY');
    await expectErrno(() => asAlice.remove(home, 'sub', { directory: true }), 'NOT_EMPTY', 'ENOTEMPTY');
    await expectErrno(() => asAlice.remove(home, 'ln', { directory: true }), 'NOT_A_DIRECTORY', 'ENOTDIR');
    await expectErrno(() => asAlice.makeNode(home, 'n'.repeat(256), { kind: 'file', mode: 0o644 }), 'NAME_TOO_LONG', 'ENAMETOOLONG');
  });

  it('concurrent inode operations travel in batches, each exactly once with its own result', async () => {
    const batch = await asAlice.makeNode(home, 'batch', { kind: 'directory', mode: 0o755 });
    const made = await Promise.all(Array.from({ length: 60 }, (_, i) => asAlice.makeNode(batch.inode, `f${i}`, { kind: 'file', mode: 0o644, exclusive: true })));
    expect(new Set(made.map((a) => a.inode)).size).to.equal(60);
    const outcomes = await Promise.allSettled([
      asAlice.link(made[0]!.inode, batch.inode, 'f1'),
      asAlice.link(made[0]!.inode, batch.inode, 'second-name'),
      ...made.slice(30).map((_, i) => asAlice.remove(batch.inode, `f${i + 30}`, { directory: false })),
    ]);
    expect(outcomes[0]!.status).to.equal('rejected');
    expect(outcomes.slice(1).every((o) => o.status === 'fulfilled')).to.equal(true);
    const listed = await asAlice.readDir(batch.inode, '', 0);
    expect(listed.entries).to.have.length(31);
    const looked = await Promise.all(made.slice(0, 30).map((_, i) => asAlice.lookup(batch.inode, `f${i}`)));
    expect(looked[0]!.nlink).to.equal(2);
  });

  it('an unlinked file stays readable by inode until its trash is purged', async () => {
    const gone = await asAlice.makeNode(home, 'gone', { kind: 'file', mode: 0o600 });
    const open = await asAlice.openInode(gone.inode);
    await open.write(0, Buffer.from('still here'));
    await asAlice.remove(home, 'gone', { directory: false });
    expect((await asAlice.statInode(gone.inode)).nlink).to.equal(0);
    expect((await open.read(0, 100)).toString()).to.equal('still here');
    await open.close();
  });

  it('answers lone RPCs as batched ones, with exact gRPC statuses on the wire', async () => {
    const lone = await cluster.client({ caller: alice, metadataBatching: false });
    const fifo = await lone.makeNode(home, 'lone-fifo', { kind: 'fifo', mode: 0o644 });
    expect((await lone.lookup(home, 'lone-fifo')).inode).to.equal(fifo.inode);
    expect((await lone.statInode(fifo.inode)).kind).to.equal('fifo');
    expect(await lone.readlink((await lone.lookup(home, 'ln')).inode)).to.equal('data-link');
    expect((await lone.link(fifo.inode, home, 'lone-fifo-2')).nlink).to.equal(2);
    await lone.renameAt(home, 'lone-fifo-2', home, 'lone-fifo-3', { noReplace: true });
    await lone.remove(home, 'lone-fifo-3', { directory: false });
    expect((await lone.setAttrInode(fifo.inode, { mode: 0o600, mtimeMs: 'now' })).mode).to.equal(0o600);

    const raw = rawClients(cluster.masters[0]!, cluster);
    const metadata = raw.metadata() as MetadataClient;
    let seq = 0;
    const requestId = () => ({ clientId: 'posix-raw', seq: String(++seq) });
    const wire = { uid: bob.uid, gid: bob.gid, groups: [] };
    try {
      await expectStatus(() => callUnary(metadata, 'Lookup', { parent: String(home), name: 'ln', caller: wire }, 10_000), grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED');
      await expectStatus(
        () => callUnary(metadata, 'Remove', { requestId: requestId(), parent: String(tmp), name: 'alices', directory: false, caller: wire }, 10_000),
        grpc.status.PERMISSION_DENIED,
        'NOT_PERMITTED',
      );
      await expectStatus(
        () => callUnary(metadata, 'Link', { requestId: requestId(), inode: String(home), newParent: String(tmp), newName: 'x' }, 10_000),
        grpc.status.PERMISSION_DENIED,
        'NOT_PERMITTED',
      );
      await expectStatus(
        () => callUnary(metadata, 'MakeNode', { parent: String(tmp), name: 'x', kind: 'FILE_KIND_FILE', mode: 0o644 }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
      );
      await expectStatus(
        () => callUnary(metadata, 'MakeNode', { requestId: requestId(), parent: String(tmp), name: 'a/b', kind: 'FILE_KIND_FILE', mode: 0o644 }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
      );
      await expectStatus(
        () => callUnary(metadata, 'MakeNode', { requestId: requestId(), parent: String(tmp), name: 'x', kind: 'FILE_KIND_UNSPECIFIED', mode: 0o644 }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
      );
      await expectStatus(
        () => callUnary(metadata, 'MakeNode', { requestId: requestId(), parent: String(tmp), name: 's', kind: 'FILE_KIND_SYMLINK', mode: 0o777, target: 't'.repeat(4096) }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'NAME_TOO_LONG',
      );
      await expectStatus(
        () => callUnary(metadata, 'RenameAt', { requestId: requestId(), parent: String(tmp), name: 'alices', newParent: String(tmp), newName: 'y', noReplace: true, exchange: true }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
      );
      await expectStatus(
        () => callUnary(metadata, 'ReadDir', { inode: String(linked), startAfter: '', limit: 0 }, 10_000),
        grpc.status.FAILED_PRECONDITION,
        'NOT_A_DIRECTORY',
      );
      await expectStatus(() => callUnary(metadata, 'Readlink', { inode: String(home) }, 10_000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(() => callUnary(metadata, 'StatInode', { inode: '0' }, 10_000), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
      await expectStatus(
        () => callUnary(metadata, 'Lookup', { parent: String(home), name: 'ln', caller: { uid: 0, gid: 0, groups: Array.from({ length: 257 }, (_, i) => i) } }, 10_000),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
      );
    } finally {
      raw.close();
    }
  });

  it('a master restart keeps all of it: links, data, symlinks, devices, owners, and the permissions they imply', async () => {
    // Past the snapshot interval, one entry each, so that recovery goes through a snapshot.
    const many = (await asAlice.makeNode(home, 'many', { kind: 'directory', mode: 0o755 })).inode;
    for (let i = 0; i < 120; i++) await asAlice.makeNode(many, `s${i}`, { kind: 'symlink', mode: 0o777, target: `target ${i}` });
    await cluster.killAndWait('master-0');
    await cluster.restart();
    const rootAfter = await cluster.client({ caller: ROOT });
    const aliceAfter = await cluster.client({ caller: alice });

    expect(await aliceAfter.lookup(home, 'data-link')).to.include({ inode: linked, nlink: 1, uid: alice.uid, mode: 0o640 });
    expect((await readAll(aliceAfter, linked, alice)).equals(data)).to.equal(true);
    expect(await aliceAfter.readlink((await aliceAfter.lookup(home, 'ln')).inode)).to.equal('data-link');
    expect(await aliceAfter.lookup(home, 'tty')).to.include({ kind: 'char-device', rdev: 0x0504, uid: 0 });
    expect((await aliceAfter.statInode(tmp)).mode).to.equal(0o1777);
    await expectErrno(() => aliceAfter.makeNode(srv, 'f', { kind: 'file', mode: 0o644 }), 'PERMISSION_DENIED', 'EACCES');
    await expectErrno(() => rootAfter.remove(tmp, 'alices', { directory: false }, bob), 'NOT_PERMITTED', 'EPERM');
    const batch = (await aliceAfter.lookup(home, 'batch')).inode;
    expect((await aliceAfter.readDir(batch, '', 0)).entries).to.have.length(31);
    const manyAfter = (await aliceAfter.lookup(home, 'many')).inode;
    const symlinks = (await aliceAfter.readDir(manyAfter, '', 0)).entries;
    expect(symlinks).to.have.length(120);
    expect(await aliceAfter.readlink(symlinks.find((e) => e.name === 's77')!.attr.inode)).to.equal('target 77');
    // And it goes on serving: a new link after the restart.
    expect((await aliceAfter.link(linked, home, 'third')).nlink).to.equal(2);
  });
});
