import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat as localStat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import { DfsError } from '../common/errors.js';
import { normalizeUserPath } from '../common/path.js';
import { DfsClient, type FileAttr } from '../client-lib/index.js';
import { findCluster } from './cluster-address.js';
import type { Output } from './output.js';
import { formatBytes } from './size.js';

/** Progress bars only for transfers long enough to watch, on a terminal, without --json. */
const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;

interface CommonOptions {
  masters?: string;
  tlsDir?: string;
  insecure?: boolean;
  dir: string;
}

export function addFileCommands(program: Command, output: Output, env: NodeJS.ProcessEnv, json: () => boolean): void {
  const withClient = async <T>(opts: CommonOptions, fn: (client: DfsClient) => Promise<T>): Promise<T> => {
    const client = await DfsClient.connect(await findCluster(opts, env, opts.dir));
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  const command = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option('--masters <list>', 'master addresses (default: $DFS_MASTERS, or DIR/cluster.json)')
      .option('--tls-dir <dir>', 'credentials directory (default: $DFS_TLS_DIR, or DIR/security/admin of a local cluster)')
      .option('--insecure', 'plaintext, for a cluster that runs --insecure')
      .option('--dir <dir>', 'local cluster directory holding cluster.json', './data');

  command('put <local> <remote>', 'copy a local file into the cluster ("-" reads stdin)')
    .option('--replication <n>', 'replicas per chunk, or "all"')
    .action(async (local: string, remote: string, opts: CommonOptions & { replication?: string }) => {
      const path = normalizeUserPath(remote);
      const replication = opts.replication === undefined ? undefined : opts.replication === 'all' ? 'all' as const : Number(opts.replication);
      await withClient(opts, async (client) => {
        const size = local === '-' ? undefined : (await localStat(local)).size;
        const source: Readable = local === '-' ? process.stdin : createReadStream(local, { highWaterMark: 1024 * 1024 });
        const sink = await client.createWriteStream(path, replication === undefined ? {} : { replication });
        const started = Date.now();
        await pipeline(source, progress(size, json()), sink);
        const attr = await client.stat(path);
        output.result({ path, size: attr.size, seconds: (Date.now() - started) / 1000 }, () =>
          `${path}: ${formatBytes(attr.size)} written`,
        );
      });
    });

  command('get <remote> [local]', 'copy a file out of the cluster (to stdout with "-")')
    .action(async (remote: string, local: string | undefined, opts: CommonOptions) => {
      const path = normalizeUserPath(remote);
      await withClient(opts, async (client) => {
        const attr = await client.stat(path);
        const target = local ?? basename(path);
        const sink: Writable = target === '-' ? process.stdout : createWriteStream(target);
        await pipeline(await client.createReadStream(path), progress(attr.size, json() || target === '-'), sink);
        if (target !== '-') output.result({ path, local: target, size: attr.size }, () => `${target}: ${formatBytes(attr.size)} read`);
      });
    });

  command('cat <remote>', 'print a file')
    .action(async (remote: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        await pipeline(await client.createReadStream(normalizeUserPath(remote)), process.stdout);
      });
    });

  command('append <remote> [local]', 'append one record (a local file, or stdin with "-" or nothing); prints its offset')
    .action(async (remote: string, local: string | undefined, opts: CommonOptions) => {
      const path = normalizeUserPath(remote);
      const record = await readAll(local === undefined || local === '-' ? process.stdin : createReadStream(local));
      await withClient(opts, async (client) => {
        const file = await client.open(path, { create: true });
        const offset = await file.append(record);
        output.result({ path, offset, length: record.length }, () => String(offset));
      });
    });

  command('ls [path]', 'list a directory')
    .action(async (path: string | undefined, opts: CommonOptions) => {
      const target = normalizeUserPath(path ?? '/');
      await withClient(opts, async (client) => {
        const attr = await client.stat(target);
        const entries = attr.kind === 'directory' ? await client.list(target) : [{ name: basename(target), attr }];
        output.result(entries, () => entries.map((e) => formatEntry(e.name, e.attr)).join('\n'));
      });
    });

  command('stat <path>', 'show attributes')
    .action(async (path: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        const attr = await client.stat(normalizeUserPath(path));
        output.result(attr, () =>
          [
            `  path: ${normalizeUserPath(path)}`,
            `  kind: ${attr.kind}`,
            `  size: ${attr.size} (${formatBytes(attr.size)})`,
            `  mode: ${attr.mode.toString(8).padStart(4, '0')}  uid: ${attr.uid}  gid: ${attr.gid}  links: ${attr.nlink}`,
            `  inode: ${attr.inode}  chunks: ${attr.chunkCount}  replication: ${attr.replication}`,
            `  modified: ${new Date(attr.mtimeMs).toISOString()}  changed: ${new Date(attr.ctimeMs).toISOString()}`,
          ].join('\n'),
        );
      });
    });

  command('rm <path>', 'delete (to the trash)')
    .option('-r, --recursive', 'delete a directory and everything in it', false)
    .action(async (path: string, opts: CommonOptions & { recursive: boolean }) => {
      await withClient(opts, async (client) => {
        await client.delete(normalizeUserPath(path), { recursive: opts.recursive });
        output.result({ deleted: normalizeUserPath(path) }, () => '');
      });
    });

  command('mv <source> <destination>', 'rename atomically (replacing the destination)')
    .option('-n, --no-clobber', 'fail if the destination exists')
    .action(async (source: string, destination: string, opts: CommonOptions & { clobber: boolean }) => {
      await withClient(opts, async (client) => {
        await client.rename(normalizeUserPath(source), normalizeUserPath(destination), { noReplace: !opts.clobber });
        output.result({ from: normalizeUserPath(source), to: normalizeUserPath(destination) }, () => '');
      });
    });

  command('mkdir <path>', 'create a directory')
    .option('-p, --parents', 'create missing parents; no error if it exists', false)
    .action(async (path: string, opts: CommonOptions & { parents: boolean }) => {
      await withClient(opts, async (client) => {
        const attr = await client.mkdir(normalizeUserPath(path), { parents: opts.parents });
        output.result(attr, () => '');
      });
    });
}

function formatEntry(name: string, attr: FileAttr): string {
  const type = attr.kind === 'directory' ? 'd' : '-';
  const mode = type + permissionString(attr.mode);
  const when = new Date(attr.mtimeMs).toISOString().replace('T', ' ').slice(0, 19);
  return `${mode} ${String(attr.nlink).padStart(3)} ${String(attr.uid).padStart(5)} ${String(attr.gid).padStart(5)} ${String(attr.size).padStart(14)} ${when} ${name}${attr.kind === 'directory' ? '/' : ''}`;
}

function permissionString(mode: number): string {
  const bits = 'rwxrwxrwx';
  return [...bits].map((c, i) => ((mode >> (8 - i)) & 1 ? c : '-')).join('');
}

/** A pass-through that draws a progress bar on stderr, when that is useful. */
function progress(total: number | undefined, quiet: boolean): Transform {
  const show = !quiet && process.stderr.isTTY === true && (total === undefined || total >= PROGRESS_MIN_BYTES);
  const bar = show
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {value_h}/{total_h} | {rate}/s | ETA {eta}s', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const started = Date.now();
  let done = 0;
  bar?.start(total ?? 0, 0, { value_h: '0 B', total_h: total === undefined ? '?' : formatBytes(total), rate: '0 B' });
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      const rate = formatBytes(Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)));
      bar?.update(done, { value_h: formatBytes(done), rate });
      callback(null, chunk);
    },
    flush(callback) {
      bar?.stop();
      callback();
    },
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  const record = Buffer.concat(parts);
  if (record.length === 0) throw new DfsError('INVALID_ARGUMENT', 'an empty record cannot be appended');
  return record;
}
