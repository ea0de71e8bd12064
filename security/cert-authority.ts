import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DfsError } from '../common/errors.js';
import { checkIdentity, identityUris, type Identity } from './identity.js';
import { CREDENTIAL_FILES, writeSecretFile } from './credentials-dir.js';
import { newClusterSecret } from './token-keys.js';

/**
 * The cluster's own certificate authority (ECDSA P-256): `init` makes the CA
 * and the cluster secret in a directory that only the operator keeps;
 * `issue` makes a credentials directory for one identity, signed by it.
 * X.509 encoding is @peculiar/x509's; keys are WebCrypto's.
 */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const CA_FILES = {
  certificate: 'ca.pem',
  key: 'ca-key.pem',
  secret: 'cluster-secret',
} as const;

/** Makes DIR/ca.pem, DIR/ca-key.pem and DIR/cluster-secret; refuses to overwrite an existing CA. */
export async function initCertificateAuthority(dir: string, validDays = 3650): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=dfs cluster CA',
    notBefore: backdated(),
    notAfter: new Date(Date.now() + validDays * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  await writeFile(join(dir, CA_FILES.certificate), certificate.toString('pem') + '\n', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new DfsError('ALREADY_EXISTS', `${dir} already holds a CA (${CA_FILES.certificate})`);
    throw err;
  });
  await writeSecretFile(join(dir, CA_FILES.key), await privateKeyPem(keys.privateKey));
  await writeSecretFile(join(dir, CA_FILES.secret), newClusterSecret() + '\n');
}

export interface IssueOptions {
  validDays?: number;
}

/**
 * Writes OUT/ca.pem, OUT/cert.pem and OUT/key.pem for `identity`, and
 * OUT/cluster-secret for masters and chunkservers (they sign and check
 * tokens). The certificate is good for client and server authentication.
 */
export async function issueCredentials(caDir: string, identity: Identity, outDir: string, options: IssueOptions = {}): Promise<void> {
  checkIdentity(identity);
  const caPem = await readFile(join(caDir, CA_FILES.certificate), 'utf8');
  const ca = new x509.X509Certificate(caPem);
  const caKey = await importPrivateKey(await readFile(join(caDir, CA_FILES.key), 'utf8'));
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${identity.name}`,
    issuer: ca.subject,
    notBefore: backdated(),
    notAfter: new Date(Date.now() + (options.validDays ?? 365) * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...identityUris(identity).map((value) => ({ type: 'url' as const, value })),
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await writeFile(join(outDir, CREDENTIAL_FILES.ca), caPem);
  await writeFile(join(outDir, CREDENTIAL_FILES.certificate), certificate.toString('pem') + '\n');
  await writeSecretFile(join(outDir, CREDENTIAL_FILES.key), await privateKeyPem(keys.privateKey));
  if (identity.role === 'master' || identity.role === 'chunkserver') {
    await writeSecretFile(join(outDir, CREDENTIAL_FILES.secret), await readFile(join(caDir, CA_FILES.secret), 'utf8'));
  }
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']) as Promise<CryptoKey>;
}

/** Positive 128-bit serials, unique without a counter. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** A minute in the past, so a peer whose clock is slightly behind accepts a certificate issued just now. */
function backdated(): Date {
  return new Date(Date.now() - 60_000);
}
