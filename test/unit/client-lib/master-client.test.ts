import { expect } from 'chai';
import type * as grpc from '@grpc/grpc-js';

import { DEFAULT_BACKOFF } from '../../../common/backoff.js';
import { DfsError, type ErrorCode } from '../../../common/errors.js';
import { startGrpcServer, stopGrpcServer, unary, type StartedServer } from '../../../common/grpc-server.js';
import { LIMITS } from '../../../common/limits.js';
import { silentLogger } from '../../../common/logger.js';
import { MasterClient } from '../../../client-lib/master-client.js';
import { masterServices } from '../../../proto/load.js';
import type { Attr } from '../../../proto/generated/dfs/Attr.js';
import type { BatchOp__Output } from '../../../proto/generated/dfs/master/BatchOp.js';
import type { MetadataHandlers } from '../../../proto/generated/dfs/master/Metadata.js';
import type { OpResult } from '../../../proto/generated/dfs/master/OpResult.js';
import { channelCredentials, PLAINTEXT } from '../../../security/transport-security.js';

/** What a fake master saw: every Batch call's ops as (op, path, seq), and lone calls by method. */
interface Seen {
  batches: { op: string; path: string; seq: string }[][];
  reads: string[][];
  lone: string[];
}

const attr = (inode: number): Attr => ({ inode: String(inode), kind: 'FILE_KIND_FILE', mode: 0o644, size: '0', nlink: 1 });

/**
 * A fake master on a real port: answers Batch with an attr per op (inode =
 * the op's seq), or the error a path names ("/fail/NOT_FOUND"), or fails the
 * whole call with `failNext` (one code per call) first.
 */
async function fakeMaster(options: { failNext?: { code: ErrorCode; leaderHint?: string }[] } = {}): Promise<{ server: StartedServer; address: string; seen: Seen }> {
  const seen: Seen = { batches: [], reads: [], lone: [] };
  const failNext = [...(options.failNext ?? [])];
  const failIfAsked = () => {
    const f = failNext.shift();
    if (f !== undefined) throw new DfsError(f.code, `injected ${f.code}`, { details: f.leaderHint ? { leaderHint: f.leaderHint } : {} });
  };
  const resultOf = (path: string, seq: string): OpResult => {
    const failure = /^\/fail\/([A-Z_]+)$/.exec(path);
    if (failure) return { error: { code: failure[1]!, message: `${path} fails` } };
    return path.startsWith('/gone') ? { done: {} } : { attr: attr(Number(seq)) };
  };
  const describe = (op: BatchOp__Output) => {
    const req = op[op.op!] as { path?: string; source?: string; requestId: { seq: string } | null };
    return { op: op.op!, path: req.path ?? req.source ?? '', seq: req.requestId?.seq ?? '' };
  };
  const handlers: Partial<MetadataHandlers> = {
    Batch: unary(async (req) => {
      const ops = req.ops.map(describe);
      seen.batches.push(ops);
      failIfAsked();
      return { results: ops.map((o) => resultOf(o.path, o.seq)) };
    }),
    ReadBatch: unary(async (req) => {
      const paths = req.ops.map((o) => o.stat?.path ?? '');
      seen.reads.push(paths);
      failIfAsked();
      return { results: paths.map((p, i) => resultOf(p, String(1000 + i))) };
    }),
    Create: unary(async (req) => {
      seen.lone.push(`Create ${req.path} ${req.requestId?.seq}`);
      failIfAsked();
      return { attr: attr(Number(req.requestId?.seq)) };
    }),
  };
  const server = await startGrpcServer((s) => s.addService(masterServices().dfs.master.Metadata.service, handlers as grpc.UntypedServiceImplementation), {
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: LIMITS.metadataMessageMaxBytes,
    largeWindow: false, security: PLAINTEXT,
  });
  return { server, address: `127.0.0.1:${server.port}`, seen };
}

function client(addresses: string[], batching = true): MasterClient {
  return new MasterClient(addresses, 'test-client', {
    credentials: channelCredentials(PLAINTEXT),
    retry: { ...DEFAULT_BACKOFF, initialMs: 1, maxMs: 5, deadlineMs: 5_000 },
    callTimeoutMs: 5_000,
    random: () => 0.5,
    logger: silentLogger,
    batching,
  });
}

const create = (c: MasterClient, path: string) =>
  c.call('Create', { requestId: c.requestId(), path, mode: 0o644, uid: 0, gid: 0, exclusive: true, replication: 0, replicateAll: false });

describe('MasterClient batching (fake masters on real ports)', () => {
  const servers: StartedServer[] = [];
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await Promise.all(servers.splice(0).map((s) => stopGrpcServer(s.server, 100)));
  });
  const start = async (options?: Parameters<typeof fakeMaster>[0]) => {
    const m = await fakeMaster(options);
    servers.push(m.server);
    return m;
  };
  const open = (addresses: string[], batching = true) => {
    const c = client(addresses, batching);
    closers.push(() => c.close());
    return c;
  };

  it('concurrent mutations go as Batch calls in call order, each with its own request id and its own reply', async () => {
    const m = await start();
    const c = open([m.address]);
    const replies = await Promise.all([create(c, '/a'), create(c, '/b'), c.call('Delete', { requestId: c.requestId(), path: '/gone', recursive: false }), create(c, '/c')]);
    expect(m.seen.batches).to.deep.equal([
      [
        { op: 'create', path: '/a', seq: '1' },
        { op: 'create', path: '/b', seq: '2' },
        { op: 'delete', path: '/gone', seq: '3' },
        { op: 'create', path: '/c', seq: '4' },
      ],
    ]);
    expect(replies.map((r) => ('attr' in r && r.attr ? r.attr.inode : 'done'))).to.deep.equal(['1', '2', 'done', '4']);
    expect(m.seen.lone).to.deep.equal([]);
  });

  it("an op's own error goes to its caller alone, with its code; the others succeed", async () => {
    const m = await start();
    const c = open([m.address]);
    const outcomes = await Promise.all(
      ['/ok1', '/fail/NOT_FOUND', '/fail/ALREADY_EXISTS', '/ok2'].map((p) =>
        create(c, p).then(
          () => 'ok',
          (e: unknown) => (e instanceof DfsError ? e.code : 'not a DfsError'),
        ),
      ),
    );
    expect(outcomes).to.deep.equal(['ok', 'NOT_FOUND', 'ALREADY_EXISTS', 'ok']);
    expect(m.seen.batches).to.have.length(1);
  });

  it('a batch that fails whole with NOT_LEADER is retried at the leader it names, with the same request ids', async () => {
    const leader = await start();
    const follower = await start({ failNext: [{ code: 'NOT_LEADER', leaderHint: leader.address }] });
    const c = open([follower.address]);
    const replies = await Promise.all([create(c, '/a'), create(c, '/b'), create(c, '/c')]);
    expect(replies.map((r) => r.attr?.inode)).to.deep.equal(['1', '2', '3']);
    expect(follower.seen.batches).to.deep.equal(leader.seen.batches);
    expect(leader.seen.batches.flat().map((o) => o.seq)).to.deep.equal(['1', '2', '3']);
  });

  it('UNAVAILABLE and TIMEOUT retry the whole batch with the same ids, moving on to the next master once', async () => {
    const down = await start({ failNext: [{ code: 'UNAVAILABLE' }] });
    const slow = await start({ failNext: [{ code: 'TIMEOUT' }] });
    const good = await start();
    const c = open([down.address, slow.address, good.address]);
    const replies = await Promise.all([create(c, '/a'), create(c, '/b')]);
    expect(replies.map((r) => r.attr?.inode)).to.deep.equal(['1', '2']);
    expect(down.seen.batches).to.deep.equal(good.seen.batches);
    expect(slow.seen.batches).to.deep.equal(good.seen.batches);
    // The next calls go straight to the master that answered.
    await create(c, '/c');
    expect(good.seen.batches.map((b) => b.map((o) => o.seq))).to.deep.equal([['1', '2'], ['3']]);
  });

  it('ops queued behind a failing batch never overtake it: the retried batch reaches the master first', async () => {
    const m = await start({ failNext: [{ code: 'UNAVAILABLE' }, { code: 'UNAVAILABLE' }] });
    const c = open([m.address]);
    const first = [create(c, '/a'), create(c, '/b')];
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = [create(c, '/c'), create(c, '/d')];
    await Promise.all([...first, ...later]);
    const order = m.seen.batches.map((b) => b.map((o) => o.seq).join(','));
    expect(order).to.deep.equal(['1,2', '1,2', '1,2', '3,4']);
  });

  it('a non-retryable whole-batch failure goes to every op of the batch', async () => {
    const m = await start({ failNext: [{ code: 'TOO_LARGE' }] });
    const c = open([m.address]);
    const outcomes = await Promise.all([create(c, '/a'), create(c, '/b')].map((p) => p.then(() => 'ok', (e: DfsError) => e.code)));
    expect(outcomes).to.deep.equal(['TOO_LARGE', 'TOO_LARGE']);
  });

  it('stats go as ReadBatch calls, each with its own reply', async () => {
    const m = await start();
    const c = open([m.address]);
    const replies = await Promise.all(['/x', '/fail/NOT_FOUND', '/y'].map((path) => c.call('Stat', { path }).then((r) => r.attr?.inode, (e: DfsError) => e.code)));
    expect(replies).to.deep.equal(['1000', 'NOT_FOUND', '1002']);
    expect(m.seen.reads).to.deep.equal([['/x', '/fail/NOT_FOUND', '/y']]);
  });

  it('with batching off, every mutation is a call of its own', async () => {
    const m = await start();
    const c = open([m.address], false);
    await Promise.all([create(c, '/a'), create(c, '/b')]);
    expect(m.seen.batches).to.deep.equal([]);
    expect([...m.seen.lone].sort()).to.deep.equal(['Create /a 1', 'Create /b 2']);
  });

  it('many ops in flight split into batches of at most LIMITS.batchOpsMax, in order', async () => {
    const m = await start();
    const c = open([m.address]);
    const n = LIMITS.batchOpsMax * 2 + 5;
    await Promise.all(Array.from({ length: n }, (_, i) => create(c, `/f${i}`)));
    expect(Math.max(...m.seen.batches.map((b) => b.length))).to.be.at.most(LIMITS.batchOpsMax);
    expect(m.seen.batches.flat().map((o) => Number(o.seq))).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1));
  });
});
