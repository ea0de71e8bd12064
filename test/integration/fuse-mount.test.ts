import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isAlive, launch, terminate } from '../../cli/process-launcher.js';
import { sleep } from '../../common/backoff.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';
import { comparePosix, formatMismatches, type Mismatch } from '../posix/compare.js';
import { runToolsWorkload } from '../posix/tools.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

interface Mount {
  dir: string;
  pid: number;
}

/**
 * `dfs mount` over a real cluster (3 masters, 3 chunkservers): each mount is
 * its own process, as on two nodes, so this process may use the mounts
 * directly. Ordinary tools, POSIX behaviour against the local file system,
 * close-to-open between mounts, and faults under a running dd.
 */
describe('dfs mount: the cluster through the kernel', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let base: string;
  const mounts = new Map<string, Mount>();

  async function mount(name: string): Promise<Mount> {
    const dir = join(base, name);
    // A remount finds the dead mount still there (ENOTCONN): dfs mount clears it.
    if (!mounts.has(name)) await mkdir(dir);
    const launched = await launch({
      role: 'mount',
      args: [dir, '--masters', cluster.masters.join(','), ...cluster.securityArgs('mount'), '--log-level', 'debug'],
      readyFile: join(base, `${name}.ready`),
      logFile: join(base, `${name}.log`),
      detached: false,
      readyTimeoutMs: 30_000,
    });
    const m = { dir, pid: launched.pid };
    mounts.set(name, m);
    return m;
  }

  async function leaderName(): Promise<string> {
    const client = await cluster.client();
    return waitFor('a leader', async () => {
      const status = await client.raftStatus();
      return status.leaderId === '' ? undefined : status.leaderId;
    });
  }

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'dfs-fuse-'));
    // The POSIX cases run as unprivileged users too: they must reach the mount point.
    await chmod(base, 0o755);
    cluster = await TestCluster.start({
      masters: 3,
      chunkservers: 3,
      chunkSizeBytes: 4 * MiB,
      masterArgs: [...FAST_MASTER_ARGS, '--raft-tick-ms', '50', '--raft-election-ticks', '10'],
    });
    await mount('a');
    await mount('b');
  });

  after(async () => {
    for (const m of mounts.values()) {
      await terminate(m.pid, 10_000);
      await run('umount', ['-l', m.dir]).catch(() => undefined);
    }
    await cluster?.stop();
    if (base !== undefined && process.env.KEEP_TEST_DIRS !== '1') await rm(base, { recursive: true, force: true });
  });

  it('runs cp, dd, tar, rsync, git clone + fsck and fio on the mount, with SHA-256 equality of a multi-chunk file', async () => {
    const dir = join(mounts.get('a')!.dir, 'tools');
    await mkdir(dir);
    // Smaller than the workload's defaults, to keep CI short; timestamps are kept to the microsecond.
    const { checks } = await runToolsWorkload(dir, { largeFileBytes: 24 * MiB, treeFiles: 40, sourceFolders: ['fuse'], mtimeResolutionNs: 1000 });
    for (const c of checks) console.log(`      ${c.ok ? 'ok' : 'FAILED'} ${c.name}: ${c.detail}`);
    const failed = checks.filter((c) => !c.ok);
    expect(failed, failed.map((c) => `${c.name}: ${c.detail}`).join('\n')).to.deep.equal([]);
    expect(checks.length).to.be.greaterThan(5);
  });

  it('behaves as Linux does on a local file system, for root and for unprivileged users', async () => {
    const target = join(mounts.get('a')!.dir, 'posix');
    await mkdir(target, { mode: 0o755 });
    const reference = await mkdtemp(join(tmpdir(), 'dfs-posix-ref-'));
    await chmod(reference, 0o755);
    try {
      const result = await comparePosix({ targetDir: target, referenceDir: reference });
      expect(result.cases).to.be.greaterThan(50);
      // A FIFO's data never reaches the file system (the kernel's pipe code
      // serves it), and FUSE does not pass on the times that code sets
      // unless the kernel caches writes: the one known difference.
      const known = (m: Mismatch) => m.caseName === 'open/fifo-nonblock' && /write\(w, "ping"\)/.test(m.description);
      const unexpected = result.mismatches.filter((m) => !known(m));
      expect(unexpected, formatMismatches(unexpected)).to.deep.equal([]);
    } finally {
      await rm(reference, { recursive: true, force: true });
    }
  });

  it('shows a file closed on one node to the other (close-to-open), including a rewrite', async () => {
    const a = mounts.get('a')!.dir;
    const b = mounts.get('b')!.dir;
    const first = randomBytes(3 * MiB + 12_345);
    await writeFile(join(a, 'shared.bin'), first);
    expect(sha(await readFile(join(b, 'shared.bin')))).to.equal(sha(first));
    const second = randomBytes(5 * MiB + 1);
    await writeFile(join(a, 'shared.bin'), second);
    expect(sha(await readFile(join(b, 'shared.bin')))).to.equal(sha(second));
    await rm(join(b, 'shared.bin'));
    await waitFor('the unlink to reach the other mount', async () => ((await stat(join(a, 'shared.bin')).catch(() => undefined)) === undefined ? true : undefined), 5_000);
  });

  it('shows a reader on the same node what a writer still holding the file open has synced, new chunks included', async () => {
    const path = join(mounts.get('a')!.dir, 'held-open.bin');
    const data = randomBytes(6 * MiB + 777);
    const writer = await open(path, 'w');
    try {
      await writer.write(data, 0, data.length, 0);
      await writer.sync();
      // O_DIRECT: the kernel's cached pages are not asked, the mount's shared open file is.
      const { stdout } = await run('dd', [`if=${path}`, 'iflag=direct', 'bs=1M', 'status=none'], { encoding: 'buffer', maxBuffer: 16 * MiB });
      expect(stdout.length).to.equal(data.length);
      expect(sha(stdout)).to.equal(sha(data));
    } finally {
      await writer.close();
    }
  });

  it('shows an open on one node what another closed into a hole, while the first node still holds the file open', async () => {
    const a = join(mounts.get('a')!.dir, 'sparse-shared.bin');
    const b = join(mounts.get('b')!.dir, 'sparse-shared.bin');
    const tail = randomBytes(1000);
    await writeFile(a, Buffer.alloc(0));
    const sparse = await open(a, 'r+');
    await sparse.write(tail, 0, tail.length, 9 * MiB);
    await sparse.close();
    // O_DIRECT, as above: the first MiB as the mount reads it.
    const firstMiB = async (path: string): Promise<Buffer> =>
      (await run('dd', [`if=${path}`, 'iflag=direct', 'bs=1M', 'count=1', 'status=none'], { encoding: 'buffer', maxBuffer: 4 * MiB })).stdout;
    const held = await open(b, 'r');
    try {
      // b reads the hole, so its open file knows chunk 0 as one.
      expect((await firstMiB(b)).every((x) => x === 0)).to.equal(true);
      const data = randomBytes(MiB);
      const writer = await open(a, 'r+');
      await writer.write(data, 0, data.length, 0);
      await writer.close();
      expect(sha(await firstMiB(b))).to.equal(sha(data));
    } finally {
      await held.close();
    }
  });

  it('reports the cluster\'s capacity to df', async () => {
    const { stdout } = await run('df', ['-B1', '--output=size,avail', mounts.get('a')!.dir]);
    const [size, avail] = stdout.trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
    expect(size).to.be.greaterThan(0);
    expect(avail).to.be.greaterThan(0).and.at.most(size!);
  });

  it('keeps dd going while the leader master and a chunkserver are killed: dd succeeds and the data is right', async () => {
    const source = join(base, 'dd-source.bin');
    await writeFile(source, randomBytes(48 * MiB));
    const target = join(mounts.get('a')!.dir, 'dd-target.bin');
    const dd = spawn('dd', [`if=${source}`, `of=${target}`, 'bs=1M', 'conv=fsync'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    dd.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => dd.on('exit', (code) => resolve(code)));
    await waitFor('dd to be under way', async () => ((await stat(target).catch(() => undefined))?.size ?? 0) > 4 * MiB || undefined, 30_000);
    const leader = await leaderName();
    cluster.kill(leader);
    await sleep(300);
    cluster.kill('chunkserver-1');
    const code = await exited;
    expect(code, stderr).to.equal(0);
    expect(sha(await readFile(target))).to.equal(sha(await readFile(source)));
    expect(sha(await readFile(join(mounts.get('b')!.dir, 'dd-target.bin')))).to.equal(sha(await readFile(source)));
    await cluster.restart();
  });

  it('a crashed mount process leaves a mount point that a new `dfs mount` takes over', async () => {
    const b = mounts.get('b')!;
    await writeFile(join(mounts.get('a')!.dir, 'survivor.txt'), 'still here\n');
    process.kill(b.pid, 'SIGKILL');
    await waitFor('the mount process to die', () => (isAlive(b.pid) ? undefined : true));
    const again = await mount('b');
    expect(again.pid).to.not.equal(b.pid);
    expect(await readFile(join(again.dir, 'survivor.txt'), 'utf8')).to.equal('still here\n');
  });

  it('`dfs umount` ends the mount process cleanly', async () => {
    const c = await mount('c');
    await run(process.execPath, [join(process.cwd(), 'dist/cli/dfs.js'), 'umount', c.dir]);
    await waitFor('the mount process to exit', () => (isAlive(c.pid) ? undefined : true), 10_000);
    const mounted = (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${c.dir} `);
    expect(mounted).to.equal(false);
    mounts.delete('c');
  });
});

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
