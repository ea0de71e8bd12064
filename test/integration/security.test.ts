import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DfsClient, isDfsError } from '../../client-lib/index.js';
import { launch, terminate } from '../../cli/process-launcher.js';
import { callUnary } from '../../common/grpc-client-pool.js';
import { fromGrpcError } from '../../common/grpc-errors.js';
import { chunkserverServices, masterServices } from '../../proto/load.js';
import type { ReadResponse__Output } from '../../proto/generated/dfs/chunk/ReadResponse.js';
import type { SessionRead } from '../../proto/generated/dfs/chunk/SessionRead.js';
import type { SessionReadAnswer__Output } from '../../proto/generated/dfs/chunk/SessionReadAnswer.js';
import { crc32c } from '../../common/crc32c.js';
import { SessionStream } from '../../client-lib/session-stream.js';
import type { SessionAppend } from '../../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionAppendAnswer__Output } from '../../proto/generated/dfs/chunk/SessionAppendAnswer.js';
import { CA_FILES, initCertificateAuthority, issueCredentials } from '../../security/cert-authority.js';
import { ChunkTokenSigner } from '../../security/chunk-access.js';
import { parseClusterSecret } from '../../security/token-keys.js';
import { ACCESS_TOKEN_KEY } from '../../security/transport-security.js';
import { dfs } from '../harness/dfs-cli.js';
import { TestCluster, type TestUser } from '../harness/test-cluster.js';

const run = promisify(execFile);
const alice: TestUser = { user: 'alice', uid: 2001, gid: 2001 };
const bob: TestUser = { user: 'bob', uid: 2002, gid: 2002 };
const SECRET = Buffer.from('alice only: the launch codes are 0000\n');

/** The error a promise rejects with, as a DfsError (undefined if it resolves). */
async function failure(p: Promise<unknown>): Promise<ReturnType<typeof fromGrpcError> | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return fromGrpcError(err);
  }
}

/** Reads a chunk straight from a chunkserver with `metadata` (the access token), as `credentials`. */
async function rawRead(address: string, credentials: grpc.ChannelCredentials, handle: string, version: string, token: string | undefined): Promise<Buffer> {
  const client = new (chunkserverServices().dfs.chunk.ChunkData)(address, credentials);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set(ACCESS_TOKEN_KEY, token);
  const parts: Buffer[] = [];
  try {
    for await (const frame of client.Read({ handle, version, offset: '0', length: '4096' }, metadata) as AsyncIterable<ReadResponse__Output>) parts.push(frame.data);
  } finally {
    client.close();
  }
  return Buffer.concat(parts);
}

describe('security: mutual TLS, identities, permissions and chunk access tokens', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let admin: DfsClient;
  let asAlice: DfsClient;
  let asBob: DfsClient;
  const secretPath = '/home/alice/secret';

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 3 });
    admin = await cluster.client();
    await admin.mkdir('/home/alice', { parents: true, mode: 0o755, uid: alice.uid, gid: alice.gid });
    asAlice = await cluster.client({}, alice);
    asBob = await cluster.client({}, bob);
    await asAlice.writeFile(secretPath, SECRET, { mode: 0o600 });
    await asAlice.writeFile('/home/alice/public', Buffer.from('hello'), { mode: 0o644 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('refuses a client with no certificate and no token, and a plaintext client', async () => {
    const anonymous = await failure(DfsClient.connect({ masters: cluster.masters, security: cluster.security('anonymous'), retry: { deadlineMs: 2_000 } }));
    expect(anonymous?.code, String(anonymous)).to.equal('UNAUTHENTICATED');
    const metadata = new (masterServices().dfs.master.Metadata)(cluster.masters[0]!, grpc.credentials.createInsecure());
    const plaintext = await failure(callUnary(metadata, 'Stat', { path: '/' }, 3_000));
    metadata.close();
    expect(plaintext?.code, String(plaintext)).to.equal('UNAVAILABLE');
    // The client library (and so the CLI) says why: the masters want TLS.
    const insecure = await failure(DfsClient.connect({ masters: cluster.masters, security: { insecure: true }, retry: { deadlineMs: 2_000 } }));
    expect(insecure?.code, String(insecure)).to.equal('UNAUTHENTICATED');
    expect(insecure?.message).to.contain('accepts TLS connections only');
  });

  it('refuses a certificate from another CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dfs-rogue-ca-'));
    try {
      await initCertificateAuthority(join(dir, 'ca'));
      await issueCredentials(join(dir, 'ca'), { name: 'admin', role: 'admin', uid: 0, gid: 0, groups: [] }, join(dir, 'admin'));
      const rogue = await failure(DfsClient.connect({ masters: cluster.masters, security: { tlsDir: join(dir, 'admin') }, retry: { deadlineMs: 2_000 } }));
      expect(rogue?.code, String(rogue)).to.be.oneOf(['UNAUTHENTICATED', 'UNAVAILABLE']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps a user from reading another user's 0600 file through the client library, whatever caller it claims", async () => {
    expect((await asAlice.readFile(secretPath)).equals(SECRET)).to.equal(true);
    const denied = await failure(asBob.readFile(secretPath));
    expect(denied?.code, String(denied)).to.equal('PERMISSION_DENIED');
    // Claiming to be alice changes nothing: the master acts on the token's identity.
    const claiming = await cluster.client({ caller: { uid: alice.uid, gid: alice.gid, groups: [] } }, bob);
    const stillDenied = await failure(claiming.readFile(secretPath));
    expect(stillDenied?.code, String(stillDenied)).to.equal('PERMISSION_DENIED');
    // Mutations travel on a metadata session, where the claim is overwritten per message.
    const removal = await failure(claiming.delete(secretPath));
    expect(removal?.code, String(removal)).to.equal('PERMISSION_DENIED');
    const overwrite = await failure(asBob.writeFile(secretPath, Buffer.from('pwned')));
    expect(overwrite?.code, String(overwrite)).to.equal('PERMISSION_DENIED');
    expect((await asBob.readFile('/home/alice/public')).toString()).to.equal('hello');
    expect((await asAlice.readFile(secretPath)).equals(SECRET)).to.equal(true);
  });

  it("keeps a user from reading another user's 0600 file through the CLI, and from admin commands", async () => {
    const bobGet = await dfs(cluster, ['get', secretPath, '-'], bob);
    expect(bobGet.code, bobGet.stderr).to.not.equal(0);
    expect(bobGet.stderr).to.contain('PERMISSION_DENIED');
    expect(bobGet.stdout).to.not.contain('launch codes');
    const aliceGet = await dfs(cluster, ['get', secretPath, '-'], alice);
    expect(aliceGet.code, aliceGet.stderr).to.equal(0);
    expect(aliceGet.stdout).to.equal(SECRET.toString());
    const bobAdmin = await dfs(cluster, ['admin', 'nodes'], bob);
    expect(bobAdmin.code).to.not.equal(0);
    expect(bobAdmin.stderr).to.contain('PERMISSION_DENIED');
    const anonymous = await dfs(cluster, ['ls', '/'], 'anonymous');
    expect(anonymous.code).to.not.equal(0);
    expect(anonymous.stderr).to.contain('UNAUTHENTICATED');
    const adminNodes = await dfs(cluster, ['admin', 'nodes'], 'admin');
    expect(adminNodes.code, adminNodes.stderr).to.equal(0);
  });

  it("keeps a local user from reading another user's 0600 file through a FUSE mount", async function () {
    if (process.getuid?.() !== 0) this.skip();
    const base = await mkdtemp(join(tmpdir(), 'dfs-security-mount-'));
    await chmod(base, 0o755);
    const dir = join(base, 'mnt');
    await mkdir(dir);
    let pid: number | undefined;
    try {
      const launched = await launch({
        role: 'mount',
        args: [dir, '--masters', cluster.masters.join(','), ...cluster.securityArgs('mount')],
        readyFile: join(base, 'ready.json'),
        logFile: join(base, 'mount.log'),
        detached: false,
        readyTimeoutMs: 30_000,
      });
      pid = launched.pid;
      const as = (user: TestUser, file: string) =>
        run('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'cat', join(dir, file)]).then(
          (r) => ({ ok: true, out: r.stdout }),
          (err: { stderr?: string }) => ({ ok: false, out: err.stderr ?? '' }),
        );
      const bobCat = await as(bob, 'home/alice/secret');
      expect(bobCat.ok).to.equal(false);
      expect(bobCat.out).to.contain('Permission denied');
      const aliceCat = await as(alice, 'home/alice/secret');
      expect(aliceCat.ok, aliceCat.out).to.equal(true);
      expect(aliceCat.out).to.equal(SECRET.toString());
    } finally {
      await run('umount', ['-l', dir]).catch(() => undefined);
      if (pid !== undefined) await terminate(pid, 5_000);
      await rm(base, { recursive: true, force: true });
    }
  });

  it('serves chunk data only against a valid access token for that chunk and operation', async () => {
    const user = cluster.channelCredentials(alice);
    const metadata = new (masterServices().dfs.master.Metadata)(cluster.masters[0]!, user);
    const inode = String((await asAlice.stat(secretPath)).inode);
    const chunks = await callUnary(metadata, 'GetChunks', { inode, firstIndex: '0', count: 1 }, 5_000);
    const other = await callUnary(metadata, 'GetChunks', { inode: String((await asAlice.stat('/home/alice/public')).inode), firstIndex: '0', count: 1 }, 5_000);
    metadata.close();
    const chunk = chunks.chunks[0]!;
    const replica = chunk.replicas[0]!.address;
    expect(chunk.accessToken).to.not.equal('');

    expect((await rawRead(replica, user, chunk.handle, chunk.version, chunk.accessToken)).equals(SECRET)).to.equal(true);
    const refusals = {
      none: await failure(rawRead(replica, user, chunk.handle, chunk.version, undefined)),
      forged: await failure(rawRead(replica, user, chunk.handle, chunk.version, `${chunk.handle}:rw:${Date.now() + 600_000}.AAAAAAAAAAAAAAAAAAAAAA`)),
      otherChunk: await failure(rawRead(replica, user, chunk.handle, chunk.version, other.chunks[0]!.accessToken)),
      otherSecret: await failure(rawRead(replica, user, chunk.handle, chunk.version, new ChunkTokenSigner(Buffer.alloc(32, 7), 600_000).sign(chunk.handle, ['read'], Date.now()))),
    };
    for (const [what, err] of Object.entries(refusals)) expect(err?.code, `${what}: ${String(err)}`).to.equal('PERMISSION_DENIED');

    // A token signed by the cluster's own key but past its expiry is refused as expired.
    const secret = parseClusterSecret(await readFile(join(cluster.dir, 'security', 'ca', CA_FILES.secret), 'utf8'), 'cluster-secret');
    const expired = new ChunkTokenSigner(secret, 60_000).sign(chunk.handle, ['read'], Date.now() - 120_000);
    const late = await failure(rawRead(replica, user, chunk.handle, chunk.version, expired));
    expect(late?.code, String(late)).to.equal('TOKEN_EXPIRED');

    // On a read session each read shows its own token: each refusal is that read's answer, and the session goes on.
    const session = new SessionStream<SessionRead, SessionReadAnswer__Output>(() => sessionClient.ReadSession(), 'read session');
    const sessionClient = new (chunkserverServices().dfs.chunk.ChunkData)(replica, user);
    const sessionRead = (accessToken: string) =>
      session.request((id) => ({ id, handle: chunk.handle, version: chunk.version, offset: '0', length: SECRET.length, accessToken }), 5_000).then((a) => a.data);
    const sessionRefusals = {
      none: await failure(sessionRead('')),
      forged: await failure(sessionRead(`${chunk.handle}:rw:${Date.now() + 600_000}.AAAAAAAAAAAAAAAAAAAAAA`)),
      otherChunk: await failure(sessionRead(other.chunks[0]!.accessToken)),
      expired: await failure(sessionRead(expired)),
    };
    expect(Object.fromEntries(Object.entries(sessionRefusals).map(([what, err]) => [what, err?.code]))).to.deep.equal({
      none: 'PERMISSION_DENIED',
      forged: 'PERMISSION_DENIED',
      otherChunk: 'PERMISSION_DENIED',
      expired: 'TOKEN_EXPIRED',
    });
    expect((await sessionRead(chunk.accessToken)).equals(SECRET)).to.equal(true);
    expect(session.inFlight()).to.equal(0);
    session.close();
    sessionClient.close();

    // A read token does not let its holder append.
    const data = new (chunkserverServices().dfs.chunk.ChunkData)(replica, user);
    const md = new grpc.Metadata();
    md.set(ACCESS_TOKEN_KEY, chunk.accessToken);
    const append = await failure(
      new Promise((resolve, reject) =>
        data.Append({ handle: chunk.handle, version: chunk.version, clientId: 'x', seq: '1', data: Buffer.from('x'), dataCrc32c: 0 }, md, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    );
    data.close();
    expect(append?.code, String(append)).to.equal('PERMISSION_DENIED');

    // Nor on an append session, where each append shows its own token and a refusal is that append's answer.
    const appendClient = new (chunkserverServices().dfs.chunk.ChunkData)(replica, user);
    const appends = new SessionStream<SessionAppend, SessionAppendAnswer__Output>(() => appendClient.AppendSession(), 'append session');
    const sessionAppend = (accessToken: string, seq: number) =>
      appends.request((id) => ({ id, append: { handle: chunk.handle, version: chunk.version, clientId: 'x', seq: String(seq), data: Buffer.from('x'), dataCrc32c: crc32c(Buffer.from('x')) }, accessToken }), 5_000);
    const appendRefusals = {
      none: await failure(sessionAppend('', 1)),
      readToken: await failure(sessionAppend(chunk.accessToken, 2)),
      forged: await failure(sessionAppend(`${chunk.handle}:rw:${Date.now() + 600_000}.AAAAAAAAAAAAAAAAAAAAAA`, 3)),
      otherChunk: await failure(sessionAppend(other.chunks[0]!.accessToken, 4)),
    };
    expect(Object.fromEntries(Object.entries(appendRefusals).map(([what, err]) => [what, err?.code]))).to.deep.equal({
      none: 'PERMISSION_DENIED',
      readToken: 'PERMISSION_DENIED',
      forged: 'PERMISSION_DENIED',
      otherChunk: 'PERMISSION_DENIED',
    });
    expect(appends.inFlight()).to.equal(0);
    appends.close();
    appendClient.close();
    expect((await asAlice.readFile(secretPath)).equals(SECRET)).to.equal(true);
  });

  it('lets each role call only its own services', async () => {
    const bobs = cluster.channelCredentials(bob);
    const admin = new (masterServices().dfs.master.Admin)(cluster.masters[0]!, bobs);
    const fsck = await failure(callUnary(admin, 'Fsck', { path: '/' }, 5_000));
    admin.close();
    expect(fsck?.code, String(fsck)).to.equal('PERMISSION_DENIED');
    const registry = new (masterServices().dfs.master.Registry)(cluster.masters[0]!, bobs);
    const heartbeat = await failure(callUnary(registry, 'Heartbeat', {}, 5_000));
    registry.close();
    expect(heartbeat?.code, String(heartbeat)).to.equal('PERMISSION_DENIED');
    const control = new (chunkserverServices().dfs.chunk.ChunkControl)(cluster.chunkservers()[0]!.address, cluster.channelCredentials('admin'));
    const copy = await failure(callUnary(control, 'CopyChunk', {}, 5_000));
    control.close();
    expect(copy?.code, String(copy)).to.equal('PERMISSION_DENIED');
    expect(isDfsError(copy) && copy.message).to.contain('may not call');
  });

  it('refuses to start a server that names neither credentials nor --insecure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dfs-no-credentials-'));
    try {
      const started = await run(process.execPath, ['dist/cli/dfs.js', 'master', '--data-dir', dir, '--port', '0', '--http-port', '-1']).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(started.code).to.equal(2);
      expect(started.stderr).to.contain('tlsDir');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
