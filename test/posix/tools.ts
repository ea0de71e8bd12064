/**
 * The ordinary-tools workload: what people do with a mounted file system,
 * done with the real tools (cp, diff, dd, sha256sum, tar, rsync, git, fio,
 * rm), each in a child process, so a FUSE mount served by the calling
 * process stays usable. Sources and copies back out live in a local
 * temporary directory; everything inside `dir` lives under one
 * subdirectory, removed at the end (itself a check).
 *
 * Each check reports ok and a detail: what was verified, or the failing
 * command with its output.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert } from '../../common/assert.js';
import { describeFailure, runCommand, type CommandOptions, type CommandResult } from './run-command.js';
import { generateTree, type TreeSummary } from './tree-generator.js';

export interface ToolCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ToolsOptions {
  /** Size of the dd/cp file, a multiple of 1 MiB; 256 MiB by default. */
  largeFileBytes?: number;
  /** Files in the generated tree; 300 by default. */
  treeFiles?: number;
  /** The repository's folders copied in as a real tree; all the source folders by default. */
  sourceFolders?: string[];
  /**
   * The file system's timestamp resolution in nanoseconds (1 by default):
   * mtimes are compared truncated to it, as a file system that keeps
   * microseconds cannot be asked to keep nanoseconds.
   */
  mtimeResolutionNs?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_LARGE_FILE_BYTES = 256 * MiB;
/** dd writes the large file in chunks of at most this size, each at its own offset. */
const DD_CHUNK_MIB = 64;
/** The generated tree: a few hundred files. */
const TREE_FILES = 300;
const TREE_SEED = 20_240_601;
/** The fio verify job is capped: it checks random-offset writes, not throughput. */
const FIO_MAX_BYTES = 32 * MiB;
/** The repository's own source folders, copied in as a second, real tree. */
const SOURCE_FOLDERS = ['common', 'proto', 'raft', 'master', 'chunkserver', 'client-lib', 'fuse', 'cli', 'bench', 'test', 'scripts'];
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

class CheckFailed extends Error {}

/** Listings of the trees are parsed whole; they are well under this. */
const LISTING_KEEP_BYTES = 64 * MiB;

/** Runs a command that must succeed; its failure fails the current check. */
async function must(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) throw new CheckFailed(describeFailure(command, args, result));
  return result;
}

async function diffTrees(expected: string, actual: string): Promise<void> {
  await must('diff', ['-r', '--no-dereference', expected, actual]);
}

/**
 * Path, type, mode, size (not for directories), mtime to the nanosecond,
 * owner and link target of everything under `root`, sorted: what cp -a,
 * tar and rsync promise to preserve.
 */
async function metadataListing(root: string, mtimeResolutionNs: number): Promise<string[]> {
  const result = await must('find', [root, '-printf', '%P\t%y\t%m\t%s\t%T@\t%u:%g\t%l\n'], { keepBytes: LISTING_KEEP_BYTES });
  assert(!result.stdoutTruncated, 'metadata listing fits the kept output');
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split('\t');
      if (fields[1] === 'd') fields[3] = '-';
      fields[4] = truncateTime(fields[4]!, mtimeResolutionNs);
      return fields.join('\t');
    })
    .sort();
}

/** "seconds.fraction" (find's %T@, 10 fractional digits) cut to a multiple of `resolutionNs`. */
function truncateTime(time: string, resolutionNs: number): string {
  const [seconds, fraction = ''] = time.split('.');
  return `${seconds}.${truncateFraction(fraction, resolutionNs)}`;
}

/** The digits after a decimal point, as nanoseconds cut to a multiple of `resolutionNs`. */
function truncateFraction(fraction: string, resolutionNs: number): string {
  const ns = Number(fraction.padEnd(9, '0').slice(0, 9));
  return String(ns - (ns % resolutionNs)).padStart(9, '0');
}

async function compareMetadata(expected: string, actual: string, mtimeResolutionNs: number): Promise<void> {
  const [want, got] = await Promise.all([metadataListing(expected, mtimeResolutionNs), metadataListing(actual, mtimeResolutionNs)]);
  const wanted = new Set(want);
  const gotSet = new Set(got);
  const missing = want.filter((l) => !gotSet.has(l));
  const extra = got.filter((l) => !wanted.has(l));
  if (missing.length === 0 && extra.length === 0) return;
  const show = (lines: string[]) => lines.slice(0, 5).join(' | ');
  throw new CheckFailed(`metadata of ${actual} differs from ${expected}: expected [${show(missing)}], found [${show(extra)}] (${missing.length} lines differ)`);
}

function describeTree(tree: TreeSummary): string {
  return `${tree.files} files, ${tree.directories} directories, ${tree.symlinks} symlinks, ${(tree.bytes / MiB).toFixed(1)} MiB`;
}

async function sha256(paths: string[]): Promise<string[]> {
  const result = await must('sha256sum', paths);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => line.split(' ')[0]!);
}

interface Context {
  /** Local scratch (not under test). */
  local: string;
  /** The workload's directory inside the directory under test. */
  work: string;
  tree: string;
  treeSummary: TreeSummary;
  source: string;
  bigFile: string;
  largeFileBytes: number;
  mtimeResolutionNs: number;
}

type Check = { name: string; run: (ctx: Context) => Promise<string> };

const CHECKS: Check[] = [
  {
    name: 'cp -a a generated tree in and back out',
    async run(ctx) {
      const inDir = join(ctx.work, 'cp-tree');
      const outDir = join(ctx.local, 'cp-tree-out');
      await must('cp', ['-a', ctx.tree, inDir]);
      await diffTrees(ctx.tree, inDir);
      await compareMetadata(ctx.tree, inDir, ctx.mtimeResolutionNs);
      await must('cp', ['-a', inDir, outDir]);
      await diffTrees(ctx.tree, outDir);
      await compareMetadata(ctx.tree, outDir, ctx.mtimeResolutionNs);
      return `${describeTree(ctx.treeSummary)}: contents (diff -r), modes, sizes, mtimes and link targets identical in and back out`;
    },
  },
  {
    name: 'cp -r the source folders in and back out',
    async run(ctx) {
      const inDir = join(ctx.work, 'cp-source');
      const outDir = join(ctx.local, 'cp-source-out');
      await must('cp', ['-r', ctx.source, inDir]);
      await diffTrees(ctx.source, inDir);
      await must('cp', ['-r', inDir, outDir]);
      await diffTrees(ctx.source, outDir);
      const listing = await must('find', [inDir, '-type', 'f'], { keepBytes: LISTING_KEEP_BYTES });
      assert(!listing.stdoutTruncated, 'file listing fits the kept output');
      const files = listing.stdout.trim().split('\n').length;
      return `${files} source files: diff -r clean in and back out`;
    },
  },
  {
    name: 'dd a large file in chunks (bs=1M conv=fsync)',
    async run(ctx) {
      const target = join(ctx.work, 'large-dd.bin');
      const totalMiB = ctx.largeFileBytes / MiB;
      const chunkMiB = Math.min(DD_CHUNK_MIB, Math.max(1, Math.floor(totalMiB / 4)));
      let chunks = 0;
      for (let offset = 0; offset < totalMiB; offset += chunkMiB, chunks++) {
        const count = Math.min(chunkMiB, totalMiB - offset);
        await must('dd', [`if=${ctx.bigFile}`, `of=${target}`, 'bs=1M', `skip=${offset}`, `seek=${offset}`, `count=${count}`, 'conv=notrunc,fsync', 'status=none']);
      }
      const [want, got] = await sha256([ctx.bigFile, target]);
      if (want !== got) throw new CheckFailed(`sha256 of ${target} is ${got}, expected ${want}`);
      return `${totalMiB} MiB written as ${chunks} chunks of ${chunkMiB} MiB at their offsets: sha256 ${want!.slice(0, 16)}… matches`;
    },
  },
  {
    name: 'cp a large file in and read it back',
    async run(ctx) {
      const target = join(ctx.work, 'large-cp.bin');
      const back = join(ctx.local, 'large-back.bin');
      await must('cp', [ctx.bigFile, target]);
      await must('dd', [`if=${target}`, `of=${back}`, 'bs=1M', 'status=none']);
      const [want, got, gotBack] = await sha256([ctx.bigFile, target, back]);
      if (want !== got || want !== gotBack) throw new CheckFailed(`sha256: source ${want}, in dir ${got}, read back ${gotBack}`);
      return `${ctx.largeFileBytes / MiB} MiB: sha256 ${want!.slice(0, 16)}… matches in the directory and read back with dd`;
    },
  },
  {
    name: 'tar: extract into the directory, create from it, pipe between two of its directories',
    async run(ctx) {
      const archive = join(ctx.local, 'tree.tar');
      const fromDir = join(ctx.local, 'from-dir.tar');
      const extracted = join(ctx.work, 'tar-x');
      const piped = join(ctx.work, 'tar-pipe');
      // POSIX (pax) archives keep sub-second mtimes; the default GNU format rounds to seconds.
      await must('tar', ['--format=posix', '--sort=name', '-C', ctx.tree, '-cf', archive, '.']);
      await must('mkdir', [extracted, piped]);
      await must('tar', ['-C', extracted, '-xf', archive]);
      await diffTrees(ctx.tree, extracted);
      await compareMetadata(ctx.tree, extracted, ctx.mtimeResolutionNs);
      await must('tar', ['--format=posix', '--sort=name', '-C', extracted, '-cf', fromDir, '.']);
      const [want, got] = await Promise.all([
        must('tar', ['-tv', '--full-time', '-f', archive], { keepBytes: LISTING_KEEP_BYTES }),
        must('tar', ['-tv', '--full-time', '-f', fromDir], { keepBytes: LISTING_KEEP_BYTES }),
      ]);
      // tar pads its time column to the longest fraction in the archive: compare fields, not columns.
      const listing = (text: string) =>
        text
          .replace(/(\d\d:\d\d:\d\d)\.(\d+)/g, (_m, hms: string, fraction: string) => `${hms}.${truncateFraction(fraction, ctx.mtimeResolutionNs)}`)
          .replace(/ +/g, ' ');
      if (listing(want.stdout) !== listing(got.stdout)) throw new CheckFailed(`tar -tv of the archive created from the directory differs from the original's`);
      await must('bash', ['-c', 'set -o pipefail; tar --format=posix -C "$1" -cf - . | tar -C "$2" -xf -', 'bash', extracted, piped]);
      await diffTrees(ctx.tree, piped);
      await compareMetadata(ctx.tree, piped, ctx.mtimeResolutionNs);
      return 'extracted tree identical (contents and metadata), archive created from it lists identically, tar | tar copy identical';
    },
  },
  {
    name: 'rsync -a in, then a second rsync transfers nothing',
    async run(ctx) {
      const target = join(ctx.work, 'rsync');
      await must('rsync', ['-a', `${ctx.tree}/`, `${target}/`]);
      await diffTrees(ctx.tree, target);
      const again = await must('rsync', ['-a', '--itemize-changes', `${ctx.tree}/`, `${target}/`]);
      if (again.stdout.trim() !== '') throw new CheckFailed(`the second rsync changed: ${again.stdout.trim().split('\n').slice(0, 10).join(' | ')}`);
      return 'second rsync -a --itemize-changes printed nothing: sizes and mtimes round-trip';
    },
  },
  {
    name: 'git clone, fsck, status, commit and gc',
    async run(ctx) {
      const repo = join(ctx.local, 'repo');
      await makeLocalRepository(repo, ctx.tree);
      const clone = join(ctx.work, 'clone');
      await must('git', ['clone', '--no-hardlinks', '-q', repo, clone]);
      await must('git', ['-C', clone, 'fsck', '--full', '--strict', '--no-progress']);
      await expectClean(clone);
      await must('cp', [join(ctx.tree, 'with space.txt'), join(clone, 'added in clone.txt')]);
      await must('git', [...GIT_IDENTITY, '-C', clone, 'add', '-A']);
      await must('git', [...GIT_IDENTITY, '-C', clone, 'commit', '-q', '-m', 'commit made in the directory under test']);
      await must('git', ['-C', clone, 'gc', '-q', '--prune=now']);
      await must('git', ['-C', clone, 'fsck', '--full', '--strict', '--no-progress']);
      await expectClean(clone);
      const commits = (await must('git', ['-C', clone, 'rev-list', '--count', 'HEAD'])).stdout.trim();
      if (commits !== '4') throw new CheckFailed(`the clone has ${commits} commits, expected 4`);
      return 'clone of a 3-commit repository: fsck --full --strict clean, status clean; a commit and gc --prune=now in the clone: still clean, 4 commits';
    },
  },
  {
    name: 'fio random writes with verification',
    async run(ctx) {
      const dir = join(ctx.work, 'fio');
      await must('mkdir', [dir]);
      const bytes = Math.min(FIO_MAX_BYTES, ctx.largeFileBytes);
      await must('fio', [
        '--name=dfs-verify',
        `--directory=${dir}`,
        '--rw=randwrite',
        '--bsrange=4k-64k',
        `--size=${bytes}`,
        '--ioengine=psync',
        '--verify=crc32c',
        '--do_verify=1',
        '--verify_fatal=1',
        '--fsync_on_close=1',
        '--output-format=terse',
      ]);
      return `${bytes / MiB} MiB of 4-64 KiB random-offset writes, every block verified (crc32c)`;
    },
  },
];

const GIT_IDENTITY = ['-c', 'user.name=POSIX Tools', '-c', 'user.email=posix-tools@example.invalid', '-c', 'init.defaultBranch=main'];

async function expectClean(repo: string): Promise<void> {
  const status = await must('git', ['-C', repo, 'status', '--porcelain']);
  if (status.stdout.trim() !== '') throw new CheckFailed(`git status is not clean: ${status.stdout.trim().split('\n').slice(0, 10).join(' | ')}`);
}

/** A local repository with three commits: add, modify and rename, delete. */
async function makeLocalRepository(repo: string, tree: string): Promise<void> {
  const git = (...args: string[]) => must('git', [...GIT_IDENTITY, '-C', repo, ...args]);
  await must('git', [...GIT_IDENTITY, 'init', '-q', repo]);
  await must('cp', ['-r', `${tree}/.`, repo]);
  await git('add', '-A');
  await git('commit', '-q', '-m', 'first: the generated tree');
  await must('cp', [join(tree, 'link-to-file'), join(repo, 'copied.bin')]);
  await git('mv', 'with space.txt', 'renamed.txt');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'second: a copy and a rename');
  await git('rm', '-q', 'copied.bin');
  await git('commit', '-q', '-m', 'third: a deletion');
}

export async function runToolsWorkload(dir: string, opts: ToolsOptions = {}): Promise<{ checks: ToolCheck[] }> {
  const largeFileBytes = opts.largeFileBytes ?? DEFAULT_LARGE_FILE_BYTES;
  assert(largeFileBytes > 0 && largeFileBytes % MiB === 0, `largeFileBytes must be a positive multiple of 1 MiB, got ${largeFileBytes}`);
  const local = await mkdtemp(join(tmpdir(), 'dfs-tools-'));
  const work = join(dir, `tools-workload-${process.pid}-${randomBytes(4).toString('hex')}`);
  const checks: ToolCheck[] = [];
  try {
    const ctx = await prepare(local, work, {
      largeFileBytes,
      treeFiles: opts.treeFiles ?? TREE_FILES,
      sourceFolders: opts.sourceFolders ?? SOURCE_FOLDERS,
      mtimeResolutionNs: opts.mtimeResolutionNs ?? 1,
    });
    for (const check of CHECKS) checks.push(await runCheck(check.name, () => check.run(ctx)));
    checks.push(
      await runCheck('rm -rf the workload directory', async () => {
        await must('rm', ['-rf', work]);
        const gone = await runCommand('test', ['-e', work]);
        if (gone.code !== 1) throw new CheckFailed(`${work} still exists after rm -rf`);
        return 'removed, nothing left';
      }),
    );
    return { checks };
  } finally {
    await rm(local, { recursive: true, force: true });
  }
}

/**
 * Local inputs (the generated tree, a snapshot of the source folders, the
 * large random file) and the workload directory. A failure here is an
 * environment problem, not a finding about `dir`, except creating the
 * workload directory, which is the first thing done in `dir`.
 */
async function prepare(
  local: string,
  work: string,
  sizes: { largeFileBytes: number; treeFiles: number; sourceFolders: string[]; mtimeResolutionNs: number },
): Promise<Context> {
  const { largeFileBytes, treeFiles, sourceFolders, mtimeResolutionNs } = sizes;
  const tree = join(local, 'tree');
  const treeSummary = await generateTree(tree, { files: treeFiles, seed: TREE_SEED });
  // A snapshot, so that others editing the repository meanwhile cannot make the copies differ.
  const source = join(local, 'source');
  const folders = sourceFolders.map((f) => join(REPO_ROOT, f)).filter((f) => existsSync(f));
  assert(folders.length > 0, `no source folders under ${REPO_ROOT}`);
  await must('mkdir', [source]);
  await must('cp', ['-r', ...folders, source]);
  const bigFile = join(local, 'large.bin');
  // Random data in 64 MiB pieces, so that no single dd holds a huge buffer.
  await writeFile(bigFile, '');
  for (let offset = 0; offset < largeFileBytes / MiB; offset += DD_CHUNK_MIB) {
    const count = Math.min(DD_CHUNK_MIB, largeFileBytes / MiB - offset);
    await must('dd', ['if=/dev/urandom', `of=${bigFile}`, 'bs=1M', 'iflag=fullblock', `seek=${offset}`, `count=${count}`, 'conv=notrunc', 'status=none']);
  }
  await must('mkdir', [work]);
  return { local, work, tree, treeSummary, source, bigFile, largeFileBytes, mtimeResolutionNs };
}

async function runCheck(name: string, run: () => Promise<string>): Promise<ToolCheck> {
  const startedMs = Date.now();
  const took = () => `${((Date.now() - startedMs) / 1000).toFixed(1)} s`;
  try {
    const detail = await run();
    return { name, ok: true, detail: `${detail} (${took()})` };
  } catch (err) {
    // Every failure is reported, with its cause's text: a missing tool (spawn ENOENT) is a failed check too.
    const detail = err instanceof Error ? err.message : String(err);
    return { name, ok: false, detail: `${detail} (${took()})` };
  }
}
