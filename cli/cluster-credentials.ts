import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CA_FILES, initCertificateAuthority, issueCredentials } from '../security/cert-authority.js';
import { CREDENTIAL_FILES } from '../security/credentials-dir.js';
import type { Identity } from '../security/identity.js';

/**
 * A local cluster's credentials, made on its first start under DIR/security:
 * the CA (ca/), and one credentials directory per role its processes and
 * its operator use. Every master shares the master's, every chunkserver the
 * chunkserver's; `admin` is what the CLI uses against the cluster, `mount`
 * what `dfs mount` uses (it speaks for the local users of the machine).
 */
export interface ClusterCredentials {
  ca: string;
  master: string;
  chunkserver: string;
  admin: string;
  mount: string;
}

export function clusterCredentialDirs(dir: string): ClusterCredentials {
  const root = join(dir, 'security');
  return { ca: join(root, 'ca'), master: join(root, 'master'), chunkserver: join(root, 'chunkserver'), admin: join(root, 'admin'), mount: join(root, 'mount') };
}

const ROLE_IDENTITIES: Record<Exclude<keyof ClusterCredentials, 'ca'>, Identity> = {
  master: { name: 'master', role: 'master', uid: 0, gid: 0, groups: [] },
  chunkserver: { name: 'chunkserver', role: 'chunkserver', uid: 0, gid: 0, groups: [] },
  admin: { name: 'admin', role: 'admin', uid: 0, gid: 0, groups: [] },
  mount: { name: 'mount', role: 'mount', uid: 0, gid: 0, groups: [] },
};

/** Makes whatever of DIR/security is missing; leaves what exists alone. */
export async function ensureClusterCredentials(dir: string): Promise<ClusterCredentials> {
  const dirs = clusterCredentialDirs(dir);
  if (!(await exists(join(dirs.ca, CA_FILES.certificate)))) await initCertificateAuthority(dirs.ca);
  for (const role of Object.keys(ROLE_IDENTITIES) as (keyof typeof ROLE_IDENTITIES)[]) {
    if (!(await exists(join(dirs[role], CREDENTIAL_FILES.certificate)))) await issueCredentials(dirs.ca, ROLE_IDENTITIES[role], dirs[role]);
  }
  return dirs;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
