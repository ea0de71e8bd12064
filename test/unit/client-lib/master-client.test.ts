import { expect } from 'chai';
import type * as grpc from '@grpc/grpc-js';

import { DEFAULT_BACKOFF } from '../../../common/backoff.js';
import { DfsError, type ErrorCode } from '../../../common/errors.js';
import { startGrpcServer, stopGrpcServer, unary, type StartedServer } from '../../../common/grpc-server.js';
import { LIMITS } from '../../../common/limits.js';
import { silentLogger } from '../../../common/logger.js';
import { MasterClient } from '../../../client-lib/master-client.js';
import { MetadataSession, type SessionCall } from '../../../client-lib/metadata-session.js';
import type { SessionResponse__Output } from '../../../proto/generated/dfs/master/SessionResponse.js';
import { MetadataSessions } from '../../../master/metadata-session.js';
import type { BatchRequest__Output } from '../../../proto/generated/dfs/master/BatchRequest.js';
import type { ReadBatchRequest__Output } from '../../../proto/generated/dfs/master/ReadBatchRequest.js';
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
  /** How each Batch and ReadBatch arrived. */
  via: ('unary' | 'session')[];
  /** The most Batch and ReadBatch calls served at once. */
  mostAtOnce: number;
}

const attr = (inode: number): Attr => ({ inode: String(inode), kind: 'FILE_KIND_FILE', mode: 0o644, size: '0', nlink: 1 });

interface FakeMasterOptions {
  failNext?: { code: ErrorCode; leaderHint?: string }[];
  /** Serve Metadata.Session too (an older master does not). */
  sessions?: boolean;
  /** Before answering a Batch or ReadBatch. */
  delayMs?: (paths: string[]) => number;
  /** The session's in-flight bound (LIMITS.metadataSessionInFlightMax by default). */
  inFlightMax?: number;
}

/**
 * A fake master on a real port: answers Batch with an attr per op (inode =
 * the op's seq), or the error a path names ("/fail/NOT_FOUND"), or fails the
 * whole call with `failNext` (one code per call) first; with `sessions`,
 * Batch and ReadBatch also on Metadata.Session.
 */
async function fakeMaster(options: FakeMasterOptions = {}): Promise<{ server: StartedServer; address: string; seen: Seen; sessions: MetadataSessions }> {
  const seen: Seen = { batches: [], reads: [], lone: [], via: [], mostAtOnce: 0 };
  let atOnce = 0;
  const pause = async (paths: string[]) => {
    seen.mostAtOnce = Math.max(seen.mostAtOnce, ++atOnce);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs!(paths)));
    atOnce--;
  };
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
  const batch = async (req: BatchRequest__Output, via: 'unary' | 'session') => {
    const ops = req.ops.map(describe);
    seen.batches.push(ops);
    seen.via.push(via);
    await pause(ops.map((o) => o.path));
    failIfAsked();
    return { results: ops.map((o) => resultOf(o.path, o.seq)) };
  };
  const readBatch = async (req: ReadBatchRequest__Output, via: 'unary' | 'session') => {
    const paths = req.ops.map((o) => o.stat?.path ?? '');
    seen.reads.push(paths);
    seen.via.push(via);
    await pause(paths);
    failIfAsked();
    return { results: paths.map((p, i) => resultOf(p, String(1000 + i))) };
  };
  const sessions = new MetadataSessions({ inFlightMax: options.inFlightMax });
  const handlers: Partial<MetadataHandlers> = {
    Batch: unary((req) => batch(req, 'unary')),
    ReadBatch: unary((req) => readBatch(req, 'unary')),
    ...(options.sessions ? { Session: sessions.handler({ batch: (req) => batch(req, 'session'), readBatch: (req) => readBatch(req, 'session') }) } : {}),
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
  return { server, address: `127.0.0.1:${server.port}`, seen, sessions };
}

function client(addresses: string[], batching = true, sessions = true, callTimeoutMs = 5_000): MasterClient {
  return new MasterClient(addresses, 'test-client', {
    credentials: channelCredentials(PLAINTEXT),
    retry: { ...DEFAULT_BACKOFF, initialMs: 1, maxMs: 5, deadlineMs: 5_000 },
    callTimeoutMs,
    random: () => 0.5,
    logger: silentLogger,
    batching,
    sessions,
  });
}

const create = (c: MasterClient, path: string) =>
  c.call('Create', { requestId: c.requestId(), path, mode: 0o644, uid: 0, gid: 0, exclusive: true, replication: 0, replicateAll: false });

for (const sessions of [false, true]) describe(`MasterClient batching (fake masters on real ports), ${sessions ? 'on metadata sessions' : 'to masters without sessions'}`, () => {
  const servers: StartedServer[] = [];
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await Promise.all(servers.splice(0).map((s) => stopGrpcServer(s.server, 100)));
  });
  const start = async (options?: FakeMasterOptions) => {
    const m = await fakeMaster({ sessions, ...options });
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
    expect(m.seen.via).to.deep.equal([sessions ? 'session' : 'unary']);
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
    expect(m.seen.via).to.deep.equal([sessions ? 'session' : 'unary']);
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

describe('metadata sessions (fake masters on real ports)', () => {
  const servers: StartedServer[] = [];
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await Promise.all(servers.splice(0).map((s) => stopGrpcServer(s.server, 100)));
  });
  const start = async (options: FakeMasterOptions = {}) => {
    const m = await fakeMaster({ sessions: true, ...options });
    servers.push(m.server);
    return m;
  };
  const rawClient = (address: string) => {
    const c = new (masterServices().dfs.master.Metadata)(address, channelCredentials(PLAINTEXT));
    closers.push(() => c.close());
    return c;
  };
  const session = (address: string) => {
    const s = new MetadataSession(rawClient(address));
    closers.push(() => s.close());
    return s;
  };
  const stat = (path: string): SessionCall => ({ kind: 'readBatch', request: { ops: [{ stat: { path, caller: null } }] } });

  it('answers reach their callers by id: a quick stat is not held behind a slow batch', async () => {
    const m = await start({ delayMs: (paths) => (paths.includes('/slow') ? 300 : 0) });
    const c = client([m.address]);
    closers.push(() => c.close());
    const finished: string[] = [];
    await Promise.all([create(c, '/slow').then(() => finished.push('create')), c.call('Stat', { path: '/x' }).then(() => finished.push('stat'))]);
    expect(finished).to.deep.equal(['stat', 'create']);
    expect(m.seen.via).to.deep.equal(['session', 'session']);
  });

  it('a master that stops ends its sessions: a request in flight moves to the next master at once, with its request id', async () => {
    const stopping = await start({ delayMs: () => 60_000 });
    const next = await start();
    const c = new MasterClient([stopping.address, next.address], 'test-client', {
      credentials: channelCredentials(PLAINTEXT),
      retry: { ...DEFAULT_BACKOFF, initialMs: 1, maxMs: 5, deadlineMs: 60_000 },
      callTimeoutMs: 60_000,
      random: () => 0.5,
      logger: silentLogger,
    });
    closers.push(() => c.close());
    const reply = create(c, '/a');
    while (stopping.seen.batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(stopping.sessions.openSessions()).to.equal(1);
    stopping.sessions.endAll();
    // Without the end it would wait out its 60 s deadline; the test's own timeout is shorter.
    expect((await reply).attr?.inode).to.equal('1');
    expect(next.seen.batches).to.deep.equal(stopping.seen.batches);
    expect(stopping.sessions.openSessions()).to.equal(0);
  });

  it('a request past its deadline fails TIMEOUT, and the session serves the next one', async () => {
    const m = await start({ delayMs: (paths) => (paths.includes('/slow') ? 500 : 0) });
    const s = session(m.address);
    const late = await s.request(stat('/slow'), 50).then(
      () => 'answered',
      (e: unknown) => (e instanceof DfsError ? e.code : String(e)),
    );
    expect(late).to.equal('TIMEOUT');
    const results = await s.request(stat('/x'), 5_000);
    expect(results.map((r) => r.attr?.inode)).to.deep.equal(['1000']);
    // The late answer, when it comes, finds no one waiting and changes nothing.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(s.inFlight()).to.equal(0);
  });

  it('the master serves at most its in-flight bound of one session at once, and answers every request', async () => {
    const m = await start({ inFlightMax: 2, delayMs: () => 30 });
    const s = session(m.address);
    const answers = await Promise.all(Array.from({ length: 7 }, (_, i) => s.request(stat(`/f${i}`), 5_000)));
    expect(answers).to.have.length(7);
    expect(m.seen.reads).to.have.length(7);
    expect(m.seen.mostAtOnce).to.equal(2);
  });

  it('a request that carries neither a batch nor a read batch gets INVALID_ARGUMENT, and the session goes on', async () => {
    const m = await start();
    const stream = rawClient(m.address).Session();
    const answers: SessionResponse__Output[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (answer: SessionResponse__Output) => {
        answers.push(answer);
        if (answers.length === 2) resolve();
      });
      stream.on('error', reject);
    });
    stream.write({ id: 7 });
    stream.write({ id: 8, readBatch: { ops: [{ stat: { path: '/x', caller: null } }] } });
    await done;
    stream.cancel();
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(7)?.error?.code).to.equal('INVALID_ARGUMENT');
    expect(byId.get(8)?.results?.results.map((r) => r.attr?.inode)).to.deep.equal(['1000']);
  });
});
