import type * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { DfsError } from '../common/errors.js';
import { Authenticator } from './auth-interceptor.js';
import { ChunkTokenSigner, ChunkTokenVerifier } from './chunk-access.js';
import { loadCredentials } from './credentials-dir.js';
import { commonName, identityFromCertificate, type Identity, type Role } from './identity.js';
import { IdentityTokens } from './identity-token.js';
import { PLAINTEXT, type TransportSecurity } from './transport-security.js';

/** How a process is told to secure itself: a credentials directory, or plaintext on purpose. */
export interface SecurityConfig {
  /** The process's credentials directory (security/credentials-dir.ts). */
  tlsDir: string | undefined;
  /** Plaintext gRPC, no authentication, callers trusted: only when asked for. */
  insecure: boolean;
}

/** Refuses a config that asks for neither or both (`fail(key, message)` throws). */
export function checkSecurityConfig(config: SecurityConfig, fail: (key: keyof SecurityConfig, message: string) => never): void {
  if (config.insecure && config.tlsDir !== undefined) fail('insecure', 'give either tlsDir or insecure, not both');
  if (!config.insecure && config.tlsDir === undefined) {
    fail('tlsDir', 'no credentials: give tlsDir (a directory made by `dfs security issue`), or insecure to run plaintext without authentication');
  }
}

/** What a master or chunkserver serves with. */
export interface ServerSecurity {
  readonly transport: TransportSecurity;
  /** The gate of every call; none in plaintext. */
  readonly interceptor: grpc.ServerInterceptor | undefined;
  /** Masters: signs chunk access tokens; none in plaintext. */
  readonly chunkTokens: ChunkTokenSigner | undefined;
}

export async function serverSecurity(
  config: SecurityConfig,
  role: Extract<Role, 'master' | 'chunkserver'>,
  options: { wallMs: () => number; chunkTokenTtlMs?: number },
): Promise<ServerSecurity> {
  if (config.insecure || config.tlsDir === undefined) return { transport: PLAINTEXT, interceptor: undefined, chunkTokens: undefined };
  const credentials = await loadCredentials(config.tlsDir);
  if (credentials.identity === undefined) throw new DfsError('INVALID_ARGUMENT', `${config.tlsDir}: a ${role} needs cert.pem and key.pem`);
  const identity = certificateIdentity(credentials.identity.certificate);
  if (identity.role !== role) throw new DfsError('INVALID_ARGUMENT', `${config.tlsDir}: the certificate is a ${identity.role}'s (${identity.name}), not a ${role}'s`);
  if (credentials.secret === undefined) throw new DfsError('INVALID_ARGUMENT', `${config.tlsDir}: a ${role} needs the cluster secret (cluster-secret)`);
  const authenticator = new Authenticator({
    identityTokens: new IdentityTokens(credentials.secret),
    chunkTokens: role === 'chunkserver' ? new ChunkTokenVerifier(credentials.secret) : undefined,
    wallMs: options.wallMs,
  });
  return {
    transport: { kind: 'tls', credentials },
    interceptor: authenticator.interceptor(),
    chunkTokens: role === 'master' ? new ChunkTokenSigner(credentials.secret, options.chunkTokenTtlMs ?? 600_000) : undefined,
  };
}

/** The transport a client (CLI, library, mount) uses: its credentials directory, or plaintext on purpose. */
export async function clientSecurity(config: { tlsDir: string } | { insecure: true }): Promise<TransportSecurity> {
  if ('insecure' in config) return PLAINTEXT;
  const credentials = await loadCredentials(config.tlsDir);
  // A directory with the CA's certificate alone connects, and the server says why it refuses.
  return { kind: 'tls', credentials };
}

/** The identity a PEM certificate of ours names. */
export function certificateIdentity(pem: Buffer): Identity {
  const certificate = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  return identityFromCertificate(commonName(cn), certificate.subjectAltName);
}
