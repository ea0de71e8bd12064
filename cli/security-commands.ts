import type { Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DfsError } from '../common/errors.js';
import { CA_FILES, initCertificateAuthority, issueCredentials } from '../security/cert-authority.js';
import { CREDENTIAL_FILES, writeSecretFile } from '../security/credentials-dir.js';
import { checkIdentity, isRole, ROLES, type Identity } from '../security/identity.js';
import { IdentityTokens } from '../security/identity-token.js';
import { parseClusterSecret } from '../security/token-keys.js';
import type { Output } from './output.js';

interface IdentityFlags {
  name: string;
  role: string;
  uid?: string;
  gid?: string;
  groups?: string;
}

/** `dfs security ...`: the cluster CA, credentials for each process and user, bearer tokens. */
export function addSecurityCommands(program: Command, output: Output): void {
  const security = program.command('security').description('the cluster CA, node and user credentials, bearer tokens');

  security
    .command('init <ca-dir>')
    .description('create a cluster CA and cluster secret in CA-DIR (keep it private; issue credentials from it)')
    .option('--valid-days <n>', 'CA lifetime in days', '3650')
    .action(async (caDir: string, opts: { validDays: string }) => {
      await initCertificateAuthority(resolve(caDir), positive(opts.validDays, '--valid-days'));
      output.result({ ca: resolve(caDir) }, () => `cluster CA and secret created in ${resolve(caDir)}`);
    });

  withIdentity(
    security
      .command('issue <out-dir>')
      .description('write a credentials directory (ca.pem, cert.pem, key.pem; cluster-secret for masters and chunkservers) for one identity')
      .requiredOption('--ca <ca-dir>', 'the CA directory (dfs security init)')
      .option('--valid-days <n>', 'certificate lifetime in days', '365'),
  ).action(async (outDir: string, opts: IdentityFlags & { ca: string; validDays: string }) => {
    const identity = identityOf(opts);
    await issueCredentials(resolve(opts.ca), identity, resolve(outDir), { validDays: positive(opts.validDays, '--valid-days') });
    output.result({ dir: resolve(outDir), identity }, () => `credentials for ${identity.role} ${identity.name} (uid ${identity.uid}, gid ${identity.gid}) in ${resolve(outDir)}`);
  });

  withIdentity(
    security
      .command('token')
      .description('print a bearer token for one identity (for clients without a certificate); --out writes a token-only credentials directory')
      .requiredOption('--ca <ca-dir>', 'the CA directory (dfs security init)')
      .option('--ttl-hours <n>', 'hours the token stays good', '24')
      .option('--out <dir>', 'write DIR/token and DIR/ca.pem, for --tls-dir'),
  ).action(async (opts: IdentityFlags & { ca: string; ttlHours: string; out?: string }) => {
    const identity = identityOf(opts);
    if (identity.role === 'master' || identity.role === 'chunkserver') throw new DfsError('INVALID_ARGUMENT', 'masters and chunkservers authenticate with certificates, not tokens');
    const caDir = resolve(opts.ca);
    const secret = parseClusterSecret(await readFile(join(caDir, CA_FILES.secret), 'utf8'), join(caDir, CA_FILES.secret));
    const expiresAtMs = Date.now() + positive(opts.ttlHours, '--ttl-hours') * 3_600_000;
    const token = new IdentityTokens(secret).mint(identity, expiresAtMs);
    if (opts.out !== undefined) {
      const out = resolve(opts.out);
      await mkdir(out, { recursive: true, mode: 0o700 });
      await writeFile(join(out, CREDENTIAL_FILES.ca), await readFile(join(caDir, CA_FILES.certificate)));
      await writeSecretFile(join(out, CREDENTIAL_FILES.token), token + '\n');
    }
    output.result({ token, expiresAt: new Date(expiresAtMs).toISOString(), identity }, () => token);
  });
}

function withIdentity(command: Command): Command {
  return command
    .requiredOption('--name <name>', 'who: the certificate CN or token subject (a user name, a host name)')
    .option('--role <role>', `${ROLES.join(', ')} (default user)`, 'user')
    .option('--uid <n>', 'the uid the master checks permissions with (default 0 for master, chunkserver, admin, mount)')
    .option('--gid <n>', 'the primary gid (default: the uid)')
    .option('--groups <list>', 'supplementary gids, comma-separated');
}

function identityOf(flags: IdentityFlags): Identity {
  if (!isRole(flags.role)) throw new DfsError('INVALID_ARGUMENT', `--role must be one of ${ROLES.join(', ')}`);
  if (flags.role === 'user' && flags.uid === undefined) throw new DfsError('INVALID_ARGUMENT', 'a user needs --uid');
  const uid = flags.uid === undefined ? 0 : id(flags.uid, '--uid');
  const gid = flags.gid === undefined ? uid : id(flags.gid, '--gid');
  const groups = flags.groups === undefined || flags.groups === '' ? [] : flags.groups.split(',').map((g) => id(g.trim(), '--groups'));
  return checkIdentity({ name: flags.name, role: flags.role, uid, gid, groups });
}

function id(text: string, flag: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) throw new DfsError('INVALID_ARGUMENT', `${flag} takes ids from 0 to 4294967295, not ${JSON.stringify(text)}`);
  return Number(text);
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new DfsError('INVALID_ARGUMENT', `${flag} must be a positive number, not ${JSON.stringify(text)}`);
  return n;
}
