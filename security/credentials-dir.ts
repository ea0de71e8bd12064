import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DfsError } from '../common/errors.js';
import { parseClusterSecret } from './token-keys.js';

/**
 * A credentials directory (`--tls-dir`): the cluster CA's certificate, this
 * identity's certificate and key, and for masters and chunkservers the
 * cluster secret; or, for a client without a certificate, a bearer token.
 */
export const CREDENTIAL_FILES = {
  ca: 'ca.pem',
  certificate: 'cert.pem',
  key: 'key.pem',
  secret: 'cluster-secret',
  token: 'token',
} as const;

export interface LoadedCredentials {
  readonly dir: string;
  readonly ca: Buffer;
  /** Certificate and key; absent for a token-only client. */
  readonly identity: { certificate: Buffer; key: Buffer } | undefined;
  readonly secret: Buffer | undefined;
  readonly token: string | undefined;
}

export async function loadCredentials(dir: string): Promise<LoadedCredentials> {
  const ca = await readOptional(join(dir, CREDENTIAL_FILES.ca));
  if (ca === undefined) throw new DfsError('INVALID_ARGUMENT', `${dir} has no ${CREDENTIAL_FILES.ca}: not a credentials directory (dfs security issue makes one)`);
  const certificate = await readOptional(join(dir, CREDENTIAL_FILES.certificate));
  const key = await readOptional(join(dir, CREDENTIAL_FILES.key));
  if ((certificate === undefined) !== (key === undefined)) {
    throw new DfsError('INVALID_ARGUMENT', `${dir} must hold both ${CREDENTIAL_FILES.certificate} and ${CREDENTIAL_FILES.key}, or neither`);
  }
  const secretText = await readOptional(join(dir, CREDENTIAL_FILES.secret));
  const tokenText = await readOptional(join(dir, CREDENTIAL_FILES.token));
  return {
    dir,
    ca,
    identity: certificate !== undefined && key !== undefined ? { certificate, key } : undefined,
    secret: secretText === undefined ? undefined : parseClusterSecret(secretText.toString('utf8'), join(dir, CREDENTIAL_FILES.secret)),
    token: tokenText === undefined ? undefined : tokenText.toString('utf8').trim(),
  };
}

/** A file only its owner may read, written whole. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
