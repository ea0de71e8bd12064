import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { DfsError } from '../common/errors.js';
import type { LoadedCredentials } from './credentials-dir.js';
import { commonName, identityFromCertificate } from './identity.js';

/**
 * How a process talks gRPC: mutual TLS with the cluster CA's certificates
 * (the default, and the only thing a cluster started by `dfs cluster start`
 * uses), or plaintext when explicitly asked for (--insecure).
 */
export type TransportSecurity =
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'tls'; readonly credentials: LoadedCredentials };

export const PLAINTEXT: TransportSecurity = { kind: 'plaintext' };

/** The metadata key that carries a chunk access token on ChunkData calls. */
export const ACCESS_TOKEN_KEY = 'dfs-access-token';

/**
 * Server side. With TLS the server asks every peer for a certificate but
 * does not insist: a client may instead present a bearer token, and the
 * authenticator (auth-interceptor.ts) refuses calls that bring neither. A
 * certificate counts only if the cluster CA signed it (grpc-js exposes the
 * peer certificate only then).
 */
export function serverCredentials(security: TransportSecurity): grpc.ServerCredentials {
  if (security.kind === 'plaintext') return grpc.ServerCredentials.createInsecure();
  const { ca, identity } = security.credentials;
  if (identity === undefined) throw new DfsError('INVALID_ARGUMENT', `${security.credentials.dir}: a server needs a certificate and key`);
  const fixed = new FixedCertificates(ca, identity.certificate, identity.key);
  return grpc.experimental.createCertificateProviderServerCredentials(fixed, fixed, false);
}

/**
 * Client side: our certificate (or bearer token), and the server must show a
 * certificate of the cluster CA naming a master or a chunkserver. Host names
 * are not checked: chunkservers are reached at whatever address they
 * register, and the CA is the cluster's own, so its signature and the role
 * are what identify a server.
 */
export function channelCredentials(security: TransportSecurity): grpc.ChannelCredentials {
  if (security.kind === 'plaintext') return grpc.credentials.createInsecure();
  const { ca, identity, token } = security.credentials;
  const ssl = grpc.credentials.createSsl(ca, identity?.key ?? null, identity?.certificate ?? null, { checkServerIdentity: checkServerRole });
  if (token === undefined || identity !== undefined) return ssl;
  const bearer = `Bearer ${token}`;
  return grpc.credentials.combineChannelCredentials(
    ssl,
    grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', bearer);
      callback(null, metadata);
    }),
  );
}

function checkServerRole(_host: string, certificate: PeerCertificate): Error | undefined {
  try {
    const identity = identityFromCertificate(commonName(certificate.subject?.CN), certificate.subjectaltname);
    if (identity.role === 'master' || identity.role === 'chunkserver') return undefined;
    return new Error(`the server's certificate names a ${identity.role} (${identity.name}), not a master or chunkserver`);
  } catch (err) {
    return err as Error;
  }
}

/**
 * Certificates read once at start (rotating them means restarting the
 * process). Listeners hear of them on the next microtask: grpc-js registers
 * its own watcher only after adding ours, and drops what arrives before.
 */
class FixedCertificates implements grpc.experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer,
    private readonly certificate: Buffer,
    private readonly privateKey: Buffer,
  ) {}

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    queueMicrotask(() => listener({ caCertificate: this.ca }));
  }

  removeCaCertificateListener(): void {}

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    queueMicrotask(() => listener({ certificate: this.certificate, privateKey: this.privateKey }));
  }

  removeIdentityCertificateListener(): void {}
}
