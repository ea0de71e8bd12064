import * as grpc from '@grpc/grpc-js';
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context.js';
import type { AccessCaller } from '../common/access.js';
import { DfsError } from '../common/errors.js';
import { toStatus } from '../common/grpc-errors.js';
import type { RawFrame } from '../proto/pipeline-frames.js';
import { METADATA_SERVICE, mayCall, needsChunkToken, rolesAllowed, serviceOf } from './access-policy.js';
import type { ChunkOp, ChunkTokenVerifier } from './chunk-access.js';
import { callerOf, commonName, identityFromCertificate, speaksForOthers, type Identity } from './identity.js';
import type { IdentityTokens } from './identity-token.js';
import { ACCESS_TOKEN_KEY } from './transport-security.js';
import { RefusedSessionRequest } from '../common/session-server.js';
import { UndecodableRequest } from '../common/undecodable-request.js';
import type { SessionAppend__Output } from '../proto/generated/dfs/chunk/SessionAppend.js';
import type { SessionRead__Output } from '../proto/generated/dfs/chunk/SessionRead.js';

/** A request on a ChunkData session: it carries its own chunk access token. */
interface SessionRequest {
  id: number;
  accessToken: string;
}

/**
 * The ChunkData sessions, whose every message names its chunk and carries
 * its token: what each message is, which chunk it names, and the token
 * operation it needs.
 */
const CHUNK_SESSIONS: Readonly<Record<string, { what: string; op: ChunkOp; handle: (message: unknown) => unknown }>> = {
  '/dfs.chunk.ChunkData/ReadSession': { what: 'a session read', op: 'read', handle: (message) => (message as SessionRead__Output).handle },
  '/dfs.chunk.ChunkData/AppendSession': { what: 'a session append', op: 'write', handle: (message) => (message as SessionAppend__Output).append?.handle },
};

export interface AuthOptions {
  /** Verifies bearer tokens; without it only certificates authenticate. */
  identityTokens: IdentityTokens | undefined;
  /** Checks chunk access tokens on ChunkData calls (chunkservers). */
  chunkTokens: ChunkTokenVerifier | undefined;
  /** Wall-clock milliseconds since the epoch: tokens are signed on one host and checked on another. */
  wallMs: () => number;
}

/**
 * The one gate every call of a TLS server passes, before any handler sees
 * it: who the peer is (a certificate of the cluster CA, else a bearer
 * token), whether its role may call the service, and for ChunkData its chunk
 * access token. On the namespace it then overwrites every `caller` a request
 * carries with the authenticated identity's ids, so no handler can act on a
 * claimed one; only a mount, which serves many local users, keeps the caller
 * it names.
 */
export class Authenticator {
  private readonly byFingerprint = new Map<string, Identity>();
  private readonly byToken = new Map<string, { identity: Identity; expiresAtMs: number }>();

  constructor(private readonly options: AuthOptions) {}

  interceptor(): grpc.ServerInterceptor {
    return (method, call) => {
      const service = serviceOf(method.path);
      let identity: Identity | undefined;
      let accessToken: string | undefined;
      let checkedFirst = false;
      const refuse = (err: unknown): void => call.sendStatus(toStatus(err));
      return new grpc.ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata, nextMetadata) => {
              try {
                identity = this.identify(call.getAuthContext(), metadata);
                const token = metadata.get(ACCESS_TOKEN_KEY)[0];
                accessToken = typeof token === 'string' ? token : undefined;
                if (!mayCall(identity.role, method.path)) {
                  throw new DfsError('PERMISSION_DENIED', `${identity.role} ${identity.name} may not call ${method.path} (it needs ${rolesAllowed(method.path).join(' or ') || 'a role no one has'})`);
                }
              } catch (err) {
                refuse(err);
                return;
              }
              nextMetadata(metadata);
            },
            onReceiveMessage: (message, nextMessage) => {
              if (identity === undefined) return;
              const session = CHUNK_SESSIONS[method.path];
              if (session !== undefined && needsChunkToken(identity.role, service)) {
                // Bytes that are no message at all end the session, in the interceptor after this one.
                nextMessage(message instanceof UndecodableRequest ? message : this.checkSessionRequest(session, message as SessionRequest));
                return;
              }
              try {
                if (!checkedFirst && needsChunkToken(identity.role, service)) {
                  const target = chunkTarget(method.path, message);
                  if (target === undefined) throw new DfsError('INVALID_ARGUMENT', `${method.path}: the first message must name its chunk`);
                  if (this.options.chunkTokens === undefined) throw new DfsError('UNAUTHENTICATED', 'this chunkserver has no cluster secret to check access tokens with');
                  this.options.chunkTokens.check(accessToken, target.handle, target.op, this.options.wallMs());
                }
                checkedFirst = true;
                nextMessage(service === METADATA_SERVICE && !speaksForOthers(identity) ? bindCaller(message, callerOf(identity)) : message);
              } catch (err) {
                refuse(err);
              }
            },
          }),
      });
    };
  }

  /**
   * A request on a ChunkData session names its own chunk and carries its own
   * token: each is checked alone, and one that fails reaches the handler as a
   * refusal to answer, so the session's other requests go on.
   */
  private checkSessionRequest(session: (typeof CHUNK_SESSIONS)[string], request: SessionRequest): SessionRequest | RefusedSessionRequest {
    try {
      if (this.options.chunkTokens === undefined) throw new DfsError('UNAUTHENTICATED', 'this chunkserver has no cluster secret to check access tokens with');
      const handle = session.handle(request);
      if (typeof handle !== 'string') throw new DfsError('INVALID_ARGUMENT', `${session.what} names its chunk`);
      this.options.chunkTokens.check(request.accessToken, handle, session.op, this.options.wallMs());
      return request;
    } catch (err) {
      return new RefusedSessionRequest(request.id, err);
    }
  }

  /** The identity behind a call; UNAUTHENTICATED if it shows neither a valid certificate nor a valid token. */
  identify(auth: AuthContext | null, metadata: grpc.Metadata): Identity {
    const certificate = auth?.sslPeerCertificate;
    if (certificate !== undefined) {
      const known = this.byFingerprint.get(certificate.fingerprint256);
      if (known !== undefined) return known;
      const identity = identityFromCertificate(commonName(certificate.subject?.CN), certificate.subjectaltname);
      if (this.byFingerprint.size >= 10_000) this.byFingerprint.clear();
      this.byFingerprint.set(certificate.fingerprint256, identity);
      return identity;
    }
    const header = metadata.get('authorization')[0];
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      if (this.options.identityTokens === undefined) throw new DfsError('UNAUTHENTICATED', 'this server accepts certificates only');
      const token = header.slice('Bearer '.length);
      const now = this.options.wallMs();
      const known = this.byToken.get(token);
      if (known !== undefined && known.expiresAtMs > now) return known.identity;
      const verified = this.options.identityTokens.verify(token, now);
      if (this.byToken.size >= 10_000) this.byToken.clear();
      this.byToken.set(token, verified);
      return verified.identity;
    }
    throw new DfsError('UNAUTHENTICATED', 'no client certificate signed by the cluster CA and no bearer token: connect with --tls-dir (dfs security issue) or a token');
  }
}

/** The chunk and operation a ChunkData call's first message is about. */
function chunkTarget(path: string, message: unknown): { handle: string; op: ChunkOp } | undefined {
  const method = path.slice(path.lastIndexOf('/') + 1);
  if (method === 'Read') return handleOf((message as { handle?: unknown }).handle, 'read');
  if (method === 'Append') return handleOf((message as { handle?: unknown }).handle, 'write');
  // A Write stream names its chunk in its first frame, a header; the handler refuses a second header.
  if (method === 'Write') return handleOf((message as RawFrame).frame?.header?.handle, 'write');
  return undefined;
}

function handleOf(handle: unknown, op: ChunkOp): { handle: string; op: ChunkOp } | undefined {
  return typeof handle === 'string' ? { handle, op } : undefined;
}

/**
 * Sets every `caller` field of a namespace request, nested batch operations
 * included, to `caller`. Requests are proto-loader objects with every field
 * present, so a request type with a caller field always has the key.
 */
export function bindCaller(message: unknown, caller: AccessCaller, depth = 0): unknown {
  if (depth > 6 || message === null || typeof message !== 'object') return message;
  if (Array.isArray(message)) {
    for (const item of message) bindCaller(item, caller, depth + 1);
    return message;
  }
  const record = message as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (key === 'caller') record[key] = { uid: caller.uid, gid: caller.gid, groups: [...caller.groups] };
    else if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) bindCaller(value, caller, depth + 1);
  }
  return message;
}
