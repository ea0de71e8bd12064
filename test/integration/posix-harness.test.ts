/**
 * The POSIX comparison and the ordinary-tools workload, validated on local
 * file systems before they judge the FUSE mount: two ext4 directories (and
 * ext4 against tmpfs) must agree exactly, and a deliberately wrong target
 * or a full file system must be reported, readably.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CATEGORIES } from '../posix/case-types.js';
import { ALL_CASES } from '../posix/cases/index.js';
import { comparePosix, formatMismatches, type Mismatch } from '../posix/compare.js';
import type { Mutation } from '../posix/mutations.js';
import { runToolsWorkload } from '../posix/tools.js';

const run = promisify(execFile);

/** Temporary directories and tmpfs mounts made by a test, removed (mounts first) even when it fails. */
class Scratch {
  private readonly dirs: string[] = [];
  private readonly mounts: string[] = [];

  /** An empty directory as the harness wants it: root-owned, mode 0755. */
  async emptyDir(parent = tmpdir()): Promise<string> {
    const dir = await mkdtemp(join(parent, 'dfs-posix-'));
    this.dirs.push(dir);
    await chmod(dir, 0o755);
    return dir;
  }

  async tmpfs(options: string): Promise<string> {
    const mountPoint = await this.emptyDir();
    await run('mount', ['-t', 'tmpfs', '-o', `${options},mode=755`, 'dfs-posix-tmpfs', mountPoint]);
    this.mounts.push(mountPoint);
    return mountPoint;
  }

  async cleanUp(): Promise<void> {
    for (const mountPoint of this.mounts.splice(0)) {
      // A lazy unmount still detaches a mount that something keeps busy.
      await run('umount', [mountPoint]).catch(() => run('umount', ['-l', mountPoint]));
    }
    for (const dir of this.dirs.splice(0).reverse()) await rm(dir, { recursive: true, force: true });
  }
}

function findMismatch(mismatches: Mismatch[], caseName: string, text: string): Mismatch | undefined {
  return mismatches.find((m) => m.caseName === caseName && m.description.includes(text));
}

describe('POSIX comparison harness', function () {
  this.timeout(120_000);
  const scratch = new Scratch();
  afterEach(() => scratch.cleanUp());

  it('has 80+ cases covering every category, errno and user', () => {
    expect(ALL_CASES.length).to.be.at.least(80);
    for (const category of CATEGORIES) {
      expect(ALL_CASES.filter((c) => c.category === category).length, category).to.be.at.least(8);
    }
    const expected = new Set(ALL_CASES.flatMap((c) => c.steps.map((s) => (typeof s.expect === 'string' ? s.expect : s.expect.on))));
    for (const errno of ['ok', 'ENOENT', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'EINVAL', 'ENAMETOOLONG', 'ELOOP']) {
      expect(expected.has(errno), errno).to.equal(true);
    }
    const users = new Set(ALL_CASES.flatMap((c) => c.steps.map((s) => s.as)));
    expect([...users].sort()).to.deep.equal(['nobody', 'root', 'user-a', 'user-b']);
  });

  it('finds no difference between two ext4 directories, and every case behaves as it expects', async () => {
    const startedMs = Date.now();
    const result = await comparePosix({ referenceDir: await scratch.emptyDir(), targetDir: await scratch.emptyDir() });
    expect(result.mismatches, formatMismatches(result.mismatches)).to.deep.equal([]);
    expect(result.cases).to.equal(ALL_CASES.length);
    expect(result.steps).to.equal(ALL_CASES.reduce((n, c) => n + c.steps.length, 0));
    expect(Date.now() - startedMs).to.be.below(60_000);
  });

  it('finds no difference between ext4 and tmpfs: it compares semantics, not one file system', async () => {
    const result = await comparePosix({ referenceDir: await scratch.emptyDir(), targetDir: await scratch.emptyDir(await scratch.tmpfs('size=64m')) });
    expect(result.mismatches, formatMismatches(result.mismatches)).to.deep.equal([]);
  });

  const compareMutated = async (targetMutation: Mutation, cases: string[]) => {
    const result = await comparePosix({ referenceDir: await scratch.emptyDir(), targetDir: await scratch.emptyDir(), cases, targetMutation });
    expect(result.mismatches).to.not.be.empty;
    return result.mismatches;
  };

  it('reports a target that returns the wrong errno', async () => {
    const mismatches = await compareMutated('eacces-as-eperm', ['unlink', 'open']);
    const wrong = findMismatch(mismatches, 'unlink/eacces-no-write', 'outcome: reference EACCES, target EPERM');
    expect(wrong, formatMismatches(mismatches)).to.include({ step: 2, reference: 'EACCES', target: 'EPERM' });
    expect(wrong!.description).to.contain('user-a: unlink("f")');
    // Nothing but the flipped errno differs.
    expect(mismatches.every((m) => m.reference === 'EACCES' && m.target === 'EPERM'), formatMismatches(mismatches)).to.equal(true);
    expect(formatMismatches(mismatches)).to.contain('unlink/eacces-no-write');
  });

  it('reports a target that ignores the umask', async () => {
    const mismatches = await compareMutated('umask-ignored', ['create', 'mkdir']);
    const mode = findMismatch(mismatches, 'create/mode-masked-by-umask', 'afterwards "f" differs (reference vs target): mode 0755 vs 0777');
    expect(mode, formatMismatches(mismatches)).to.deep.include({ reference: { mode: '0755' }, target: { mode: '0777' } });
    // A difference that persists over later steps is reported once, where it appeared.
    expect(mismatches.filter((m) => m.caseName === 'create/mode-masked-by-umask' && m.description.includes('"f"'))).to.have.length(1);
  });

  it('reports a target that checks no permissions', async () => {
    const mismatches = await compareMutated('permissions-unchecked', ['unlink', 'create', 'utimens']);
    const text = formatMismatches(mismatches);
    expect(findMismatch(mismatches, 'unlink/sticky-other-user', 'user-b: unlink("f")): outcome: reference EPERM, target ok'), text).to.not.equal(undefined);
    expect(findMismatch(mismatches, 'unlink/sticky-other-user', 'afterwards "f": reference has a file (0644 user-a:group-a), target lstat fails with ENOENT'), text).to.not.equal(undefined);
    expect(findMismatch(mismatches, 'utimens/non-owner-explicit', 'outcome: reference EPERM, target ok'), text).to.not.equal(undefined);
    expect(findMismatch(mismatches, 'create/owner-is-creator', 'owner user-b vs root'), text).to.not.equal(undefined);
  });
});

describe('ordinary tools workload', function () {
  this.timeout(180_000);
  const scratch = new Scratch();
  afterEach(() => scratch.cleanUp());

  it('passes every check in a local directory and leaves it empty', async () => {
    const dir = await scratch.emptyDir();
    const { checks } = await runToolsWorkload(dir, { largeFileBytes: 16 * 1024 * 1024 });
    const failed = checks.filter((c) => !c.ok);
    expect(failed, failed.map((c) => `${c.name}: ${c.detail}`).join('\n')).to.deep.equal([]);
    expect(checks.map((c) => c.name.split(' ')[0])).to.deep.equal(['cp', 'cp', 'dd', 'cp', 'tar:', 'rsync', 'git', 'fio', 'rm']);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('reports failing tools with their errors on a full file system', async () => {
    const dir = join(await scratch.tmpfs('size=4m'), 'target');
    await mkdir(dir);
    const { checks } = await runToolsWorkload(dir, { largeFileBytes: 8 * 1024 * 1024 });
    const dd = checks.find((c) => c.name.startsWith('dd '));
    expect(dd?.ok).to.equal(false);
    expect(dd?.detail).to.match(/^dd if=.* exit 1: .*No space left on device/s);
    expect(checks.filter((c) => !c.ok).length).to.be.at.least(5);
    // Removing what did get written still works.
    expect(checks.at(-1)).to.include({ name: 'rm -rf the workload directory', ok: true });
  });
});
