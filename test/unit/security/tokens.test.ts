import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { DfsError, isDfsError } from '../../../common/errors.js';
import { bindCaller } from '../../../security/auth-interceptor.js';
import { ChunkTokenSigner, ChunkTokenVerifier } from '../../../security/chunk-access.js';
import { identityFromCertificate, type Identity } from '../../../security/identity.js';
import { IdentityTokens } from '../../../security/identity-token.js';
import { mayCall, needsChunkToken } from '../../../security/access-policy.js';

const secret = randomBytes(32);
const alice: Identity = { name: 'alice', role: 'user', uid: 1001, gid: 1001, groups: [20, 30] };
const NOW = 1_000_000;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DfsError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('identity tokens', () => {
  const tokens = new IdentityTokens(secret);

  it('carry the identity they were minted for until they expire', () => {
    const token = tokens.mint(alice, NOW + 60_000);
    expect(tokens.verify(token, NOW).identity).to.deep.equal(alice);
    expect(codeOf(() => tokens.verify(token, NOW + 60_000))).to.equal('UNAUTHENTICATED');
  });

  it('refuse a token whose payload was changed, or signed with another secret', () => {
    const token = tokens.mint(alice, NOW + 60_000);
    const [prefix, payload, mac] = token.split('.');
    const root = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), u: 0 })).toString('base64url');
    expect(codeOf(() => tokens.verify(`${prefix}.${root}.${mac}`, NOW))).to.equal('UNAUTHENTICATED');
    expect(codeOf(() => new IdentityTokens(randomBytes(32)).verify(token, NOW))).to.equal('UNAUTHENTICATED');
    expect(codeOf(() => tokens.verify('not a token', NOW))).to.equal('UNAUTHENTICATED');
    expect(codeOf(() => tokens.verify('x'.repeat(10_000), NOW))).to.equal('UNAUTHENTICATED');
  });
});

describe('chunk access tokens', () => {
  const signer = new ChunkTokenSigner(secret, 600_000);
  const verifier = new ChunkTokenVerifier(secret);

  it('grant the chunk and operations they name, until they expire', () => {
    const token = signer.sign(42n, ['read', 'write'], NOW);
    expect(codeOf(() => verifier.check(token, '42', 'read', NOW))).to.equal('ok');
    expect(codeOf(() => verifier.check(token, '42', 'write', NOW + 599_999))).to.equal('ok');
    expect(codeOf(() => verifier.check(token, '42', 'read', NOW + 600_000))).to.equal('TOKEN_EXPIRED');
  });

  it('refuse another chunk, an operation not granted, a forged or missing token', () => {
    const read = signer.sign(42n, ['read'], NOW);
    expect(codeOf(() => verifier.check(read, '43', 'read', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(read, '42', 'write', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(read.replace('42:r', '43:r'), '43', 'read', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(read.replace(':r:', ':rw:'), '42', 'write', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(new ChunkTokenSigner(randomBytes(32), 600_000).sign(42n, ['read'], NOW), '42', 'read', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(undefined, '42', 'read', NOW))).to.equal('PERMISSION_DENIED');
    expect(codeOf(() => verifier.check(new IdentityTokens(secret).mint(alice, NOW + 1000), '42', 'read', NOW))).to.equal('PERMISSION_DENIED');
  });
});

describe('certificate identities', () => {
  it('read the role and ids from the subjectAltName URIs', () => {
    const san = 'URI:urn:dfs:role:user, URI:urn:dfs:uid:1001, URI:urn:dfs:gid:1001, URI:urn:dfs:group:20, URI:urn:dfs:group:30, DNS:localhost, IP Address:127.0.0.1';
    expect(identityFromCertificate('alice', san)).to.deep.equal(alice);
  });

  it('refuse a certificate without a dfs identity', () => {
    const err = (() => {
      try {
        identityFromCertificate('web', 'DNS:example.org');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isDfsError(err, 'UNAUTHENTICATED')).to.equal(true);
    expect(codeOf(() => identityFromCertificate('x', 'URI:urn:dfs:role:emperor, URI:urn:dfs:uid:1, URI:urn:dfs:gid:1'))).to.equal('UNAUTHENTICATED');
  });
});

describe('the access policy', () => {
  it('lets each role call only its services', () => {
    expect(mayCall('user', '/dfs.master.Metadata/Stat')).to.equal(true);
    expect(mayCall('user', '/dfs.master.Admin/Fsck')).to.equal(false);
    expect(mayCall('mount', '/dfs.master.Admin/ListChunkservers')).to.equal(true);
    expect(mayCall('mount', '/dfs.master.Admin/SetNodeState')).to.equal(false);
    expect(mayCall('admin', '/dfs.master.Registry/Heartbeat')).to.equal(false);
    expect(mayCall('chunkserver', '/dfs.raft.RaftTransport/Send')).to.equal(false);
    expect(mayCall('admin', '/dfs.chunk.ChunkControl/CopyChunk')).to.equal(false);
    expect(mayCall('master', '/dfs.unknown.Service/X')).to.equal(false);
    expect(needsChunkToken('user', 'dfs.chunk.ChunkData')).to.equal(true);
    expect(needsChunkToken('chunkserver', 'dfs.chunk.ChunkData')).to.equal(false);
  });

  it('binds every caller a namespace request carries, batches included, to the identity', () => {
    const claimed = { uid: 0, gid: 0, groups: [] };
    const request = {
      ops: [
        { op: 'mkdir', mkdir: { path: '/a', caller: claimed } },
        { op: 'rename', rename: { source: '/a', destination: '/b', caller: null } },
      ],
    };
    bindCaller(request, { uid: 1001, gid: 1001, groups: [20] });
    expect(request.ops[0]!.mkdir!.caller).to.deep.equal({ uid: 1001, gid: 1001, groups: [20] });
    expect(request.ops[1]!.rename!.caller).to.deep.equal({ uid: 1001, gid: 1001, groups: [20] });
    const stat = { path: '/x', caller: null };
    bindCaller(stat, { uid: 7, gid: 8, groups: [] });
    expect(stat.caller).to.deep.equal({ uid: 7, gid: 8, groups: [] });
    const session = { id: 3, call: 'batch', batch: { ops: [{ op: 'makeNode', makeNode: { parent: '1', name: 'x', caller: claimed } }] }, readBatch: null };
    bindCaller(session, { uid: 1001, gid: 1001, groups: [] });
    expect(session.batch.ops[0]!.makeNode.caller).to.deep.equal({ uid: 1001, gid: 1001, groups: [] });
  });
});
