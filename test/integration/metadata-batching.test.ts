import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';

import { callUnary } from '../../common/grpc-client-pool.js';
import { fromGrpcError } from '../../common/grpc-errors.js';
import { LIMITS } from '../../common/limits.js';
import { DfsClient } from '../../client-lib/index.js';
import type { BatchOp } from '../../proto/generated/dfs/master/BatchOp.js';
import type { MetadataClient } from '../../proto/generated/dfs/master/Metadata.js';
import { expectStatus } from '../harness/expect-status.js';
import { rawClients } from '../harness/raw-clients.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

describe('metadata batching through a Raft group of masters (real processes)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let raw: ReturnType<typeof rawClients>;
  let seq = 0;
  const rid = () => ({ clientId: 'batching-test-raw', seq: String(++seq) });

  before(async () => {
    // No chunkservers: nothing here touches data.
    cluster = await TestCluster.start({ masters: 3, chunkservers: 0 });
  });

  after(async () => {
    raw?.close();
    await cluster?.stop();
  });

  /** The leader's address and id, and a follower's id, as the leader reports them. */
  async function roles(client: DfsClient): Promise<{ leaderAddress: string; leaderId: string; followerId: string; followerAddress: string }> {
    return waitFor('a leader', async () => {
      const status = await client.raftStatus();
      if (status.role !== 'leader') return undefined;
      const follower = status.members.find((m) => m.id !== status.id && m.role === 'voter');
      if (follower === undefined) return undefined;
      return { leaderAddress: status.address, leaderId: status.id, followerId: follower.id, followerAddress: follower.address };
    });
  }

  it('1,000 concurrent creates through one client, leadership moved mid-way: every one succeeds, exactly once', async () => {
    const client = await cluster.client();
    await client.mkdir('/many');
    const { followerId } = await roles(client);
    const n = 1000;
    let done = 0;
    let transferred: Promise<unknown> | undefined;
    let doneWhenTransferred = n;
    const creates = Array.from({ length: n }, (_, i) =>
      client.create(`/many/f${i}`, { exclusive: true }).then((attr) => {
        // A third of the way through, hand leadership to a follower while the rest are in flight.
        if (++done === Math.floor(n / 3)) transferred = client.transferLeadership(followerId).then(() => (doneWhenTransferred = done));
        return attr;
      }),
    );
    // Exclusive creates: a create applied twice would come back ALREADY_EXISTS, not as its first reply.
    const attrs = await Promise.all(creates);
    await transferred;
    expect(transferred, 'the transfer ran').to.not.equal(undefined);
    // The old leader takes no proposal while it hands over, so creates were still outstanding when it ended.
    expect(doneWhenTransferred, 'creates done when leadership had moved').to.be.below(n);
    const after = await roles(client);
    expect(after.leaderId, 'leadership moved').to.equal(followerId);

    expect(new Set(attrs.map((a) => a.inode)).size, 'one inode per create').to.equal(n);
    const listed = await client.list('/many');
    expect(listed.map((e) => e.name).sort()).to.deep.equal(Array.from({ length: n }, (_, i) => `f${i}`).sort());
    const byName = new Map(listed.map((e) => [e.name, e.attr.inode]));
    attrs.forEach((a, i) => expect(byName.get(`f${i}`), `f${i}`).to.equal(a.inode));
    const health = await client.clusterHealth();
    expect(Number(health.files)).to.equal(n);

    // 1,000 concurrent stats through ReadBatch agree with what the creates returned.
    const stats = await Promise.all(Array.from({ length: n }, (_, i) => client.stat(`/many/f${i}`)));
    stats.forEach((s, i) => expect(s.inode).to.equal(attrs[i]!.inode));
  });

  it('mixed concurrent mutations each get their own result or error, as sent alone', async () => {
    const client = await cluster.client();
    await client.mkdir('/mixed');
    await client.create('/mixed/existing');
    const outcomes = await Promise.all(
      [
        () => client.mkdir('/mixed/d'),
        () => client.create('/mixed/existing', { exclusive: true }),
        () => client.create('/mixed/a'),
        () => client.mkdir('/mixed/no/such/parent'),
        () => client.rename('/mixed/existing', '/mixed/moved'),
        () => client.setAttributes('/mixed/a', { mode: 0o600, replication: 2 }),
        () => client.delete('/mixed/nothing-here'),
        () => client.create('/mixed/bad\u0000name'),
      ].map((op) =>
        op().then(
          () => 'ok',
          (e: { code?: string }) => e.code ?? 'no code',
        ),
      ),
    );
    expect(outcomes).to.deep.equal(['ok', 'ALREADY_EXISTS', 'ok', 'NOT_FOUND', 'ok', 'ok', 'NOT_FOUND', 'INVALID_ARGUMENT']);
    const a = await client.stat('/mixed/a');
    expect(a.mode).to.equal(0o600);
    expect(a.replication).to.equal(2);
    expect((await client.list('/mixed')).map((e) => e.name).sort()).to.deep.equal(['a', 'd', 'moved']);
  });

  it('the client keeps every batch within the entry limit: 300 concurrent renames of maximal paths each get their own reply', async () => {
    const client = await cluster.client();
    const longPath = (tag: string) => ('/nowhere' + `/${'m'.repeat(250)}`.repeat(16) + `/${tag}`).padEnd(LIMITS.pathMaxBytes, 'y');
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) => client.rename(longPath(`s${i}-`), longPath(`d${i}-`)).then(() => 'ok', (e: { code?: string }) => e.code)),
    );
    // 128 of these would make an entry above LIMITS.batchEntryMaxBytes: the client splits them, so none is TOO_LARGE.
    expect(new Set(outcomes)).to.deep.equal(new Set(['NOT_FOUND']));
  });

  it('Batch and ReadBatch on the wire: exact limits and codes, per-op checks, NOT_LEADER on a follower', async () => {
    const client = await cluster.client();
    const { leaderAddress, followerAddress } = await roles(client);
    raw = rawClients(leaderAddress, cluster);
    const metadata: MetadataClient = raw.metadata();
    await client.mkdir('/wire');
    const create = (path: string): BatchOp => ({ create: { requestId: rid(), path, mode: 0o644 } });

    // One op too many: the whole call fails, nothing applies.
    const tooMany = Array.from({ length: LIMITS.batchOpsMax + 1 }, (_, i) => create(`/wire/over${i}`));
    await expectStatus(() => callUnary(metadata, 'Batch', { ops: tooMany }, 10_000), grpc.status.RESOURCE_EXHAUSTED, 'TOO_LARGE');
    await expectStatus(
      () => callUnary(metadata, 'ReadBatch', { ops: Array.from({ length: LIMITS.batchOpsMax + 1 }, () => ({ stat: { path: '/' } })) }, 10_000),
      grpc.status.RESOURCE_EXHAUSTED,
      'TOO_LARGE',
    );

    // Within the op limit, but an entry above LIMITS.batchEntryMaxBytes: renames of two maximal paths each.
    const longPath = (tag: string) => {
      // 16 components of 250 bytes, then one that brings the path to exactly LIMITS.pathMaxBytes.
      const p = '/wire' + `/${'n'.repeat(250)}`.repeat(16);
      return `${p}/${tag}`.padEnd(LIMITS.pathMaxBytes, 'x');
    };
    expect(longPath('s0-').length).to.equal(LIMITS.pathMaxBytes);
    const renames: BatchOp[] = Array.from({ length: LIMITS.batchOpsMax }, (_, i) => ({
      rename: { requestId: rid(), source: longPath(`s${i}-`), destination: longPath(`d${i}-`), noReplace: false },
    }));
    await expectStatus(() => callUnary(metadata, 'Batch', { ops: renames }, 10_000), grpc.status.RESOURCE_EXHAUSTED, 'TOO_LARGE');
    expect((await client.list('/wire')).length, 'a refused batch applies nothing').to.equal(0);

    // Per-op checks: a bad op gets its own INVALID_ARGUMENT; the others apply.
    const ok2 = create('/wire/ok2');
    const reply = await callUnary(metadata, 'Batch', {
      ops: [create('/wire/ok1'), create('relative/path'), { create: { requestId: null, path: '/wire/no-id' } }, { mkdir: { requestId: rid(), path: '/wire/dir', mode: 0o10000 } }, ok2, {}],
    }, 10_000);
    expect(reply.results.map((r) => (r.result === 'error' ? r.error!.code : r.result))).to.deep.equal([
      'attr',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'attr',
      'INVALID_ARGUMENT',
    ]);
    expect((await client.list('/wire')).map((e) => e.name).sort()).to.deep.equal(['ok1', 'ok2']);

    // The same batch again (a retry): the same inodes, nothing created twice.
    const again = await callUnary(metadata, 'Batch', { ops: [{ create: { ...ok2.create, exclusive: true } }] }, 10_000);
    expect(again.results[0]!.result, 'a retry is answered, not applied again (exclusive would fail)').to.equal('attr');
    expect(again.results[0]!.attr?.inode).to.equal(reply.results[4]!.attr?.inode);

    const stats = await callUnary(metadata, 'ReadBatch', { ops: [{ stat: { path: '/wire/ok1' } }, { stat: { path: '/wire/none' } }, { stat: { path: 'bad' } }] }, 10_000);
    expect(stats.results.map((r) => (r.result === 'error' ? r.error!.code : r.attr!.inode))).to.deep.equal([
      reply.results[0]!.attr!.inode,
      'NOT_FOUND',
      'INVALID_ARGUMENT',
    ]);

    // A follower answers NOT_LEADER naming the leader, for both.
    const onFollower = rawClients(followerAddress, cluster);
    try {
      const follower = onFollower.metadata();
      for (const call of [() => callUnary(follower, 'Batch', { ops: [create('/wire/f')] }, 10_000), () => callUnary(follower, 'ReadBatch', { ops: [] }, 10_000)]) {
        await expectStatus(call, grpc.status.UNAVAILABLE, 'NOT_LEADER');
        const err = await call().catch((e: unknown) => fromGrpcError(e));
        expect((err as ReturnType<typeof fromGrpcError>).details.leaderHint).to.equal(leaderAddress);
      }
    } finally {
      onFollower.close();
    }
  });
});
