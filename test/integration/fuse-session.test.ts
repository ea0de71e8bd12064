/**
 * The FUSE session on a real kernel mount (runs as root, needs /dev/fuse),
 * serving the in-memory file system. This process serves the mount, so it
 * never touches the mount point itself: every file operation runs in a
 * child process (a synchronous one from here would deadlock, an
 * asynchronous one would still tie up the thread pool the session reads in).
 */
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../common/backoff.js';
import { silentLogger } from '../../common/logger.js';
import { FuseSession, threadPoolSizeFor } from '../../fuse/fuse-session.js';
import { findMount, unmountFuse } from '../../fuse/mount-point.js';
import { MemoryFileSystem } from '../harness/memory-file-system.js';

const MEMORY_MOUNT = fileURLToPath(new URL('../harness/memory-mount.js', import.meta.url));
const MIB = 1024 * 1024;

interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a shell script in a child process, in directory `cwd`; never throws on
 * a non-zero exit (tests assert on it). The shell changes directory itself:
 * spawn's own `cwd` would chdir between fork and exec, while this process
 * waits in spawn for the exec and so cannot answer the kernel's LOOKUP.
 */
function sh(script: string, cwd: string, timeoutMs = 30_000): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', 'cd -- "$0" || exit 125\n' + script, cwd], { timeout: timeoutMs, maxBuffer: 16 * MIB }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** As sh, but the script must succeed; returns its stdout. */
async function ok(script: string, cwd: string, timeoutMs?: number): Promise<string> {
  const r = await sh(script, cwd, timeoutMs);
  expect(r.code, `${script}\n${r.stderr}`).to.equal(0);
  return r.stdout;
}

/** Takes a test's mount off whatever state the test left it in. */
async function forceUnmount(session: FuseSession | undefined, mountPoint: string): Promise<void> {
  if (session !== undefined) await session.unmount({ abortAfterMs: 2_000 });
  else if ((await findMount(mountPoint)) !== undefined) await unmountFuse(mountPoint, silentLogger);
}

describe('FUSE session on a real mount', function () {
  this.timeout(30_000);
  let dir: string;
  let mnt: string;
  let fs: MemoryFileSystem;
  let session: FuseSession | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-fuse-'));
    mnt = join(dir, 'mnt');
    await mkdir(mnt);
    fs = new MemoryFileSystem();
    session = await FuseSession.mount(mnt, fs, { fsname: 'dfs-test' });
  });

  after(async () => {
    await forceUnmount(session, mnt);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers INIT and shows as a fuse.dfs mount', async () => {
    expect(session!.state).to.equal('open');
    const mounted = await findMount(session!.mountPoint);
    expect(mounted?.fsType).to.equal('fuse.dfs');
    expect(await ok(`grep -F ' ${session!.mountPoint} ' /proc/self/mountinfo`, dir)).to.match(/ - fuse\.dfs dfs-test .*allow_other.*max_read=1048576/);
  });

  it('writes and reads a small file', async () => {
    expect(await ok('echo hello > f && cat f', mnt)).to.equal('hello\n');
  });

  it('makes directories and lists them', async () => {
    await ok('mkdir -p a/b && echo x > a/b/c', mnt);
    const listing = await ok('ls -la a', mnt);
    expect(listing).to.match(/^d.* \.$/m);
    expect(listing).to.match(/^d.* \.\.$/m);
    expect(listing).to.match(/^drwxr-xr-x .* b$/m);
    expect(await ok('ls a/b', mnt)).to.equal('c\n');
  });

  it('moves, hard-links and symlinks', async () => {
    await ok('echo data > m1 && mv m1 a/m2 && ln a/m2 hard && ln -s a/m2 soft', mnt);
    expect(await ok('readlink soft && cat soft && stat -c %h hard', mnt)).to.equal('a/m2\ndata\n2\n');
    expect((await sh('cat m1', mnt)).code).to.not.equal(0);
  });

  it('passes the caller\'s uid and gid to the file system', async () => {
    await ok('mkdir shared && chmod 0777 shared', mnt);
    await ok('setpriv --reuid=65534 --regid=65534 --clear-groups touch shared/x', mnt);
    expect(await ok('stat -c %u:%g shared/x', mnt)).to.equal('65534:65534\n');
    // And the kernel checks permissions from our attributes (default_permissions).
    const denied = await sh('setpriv --reuid=65534 --regid=65534 --clear-groups touch a/nope', mnt);
    expect(denied.stderr).to.match(/Permission denied/);
  });

  it('carries 1 MiB writes and reads back 64 MiB intact', async function () {
    const src = join(dir, 'src');
    await ok(`dd if=/dev/urandom of=${src} bs=1M count=64 status=none`, dir);
    await ok(`dd if=${src} of=${mnt}/big bs=1M status=none`, dir);
    // O_DIRECT reads bypass the page cache, so the bytes come back from the file system.
    const sums = await ok(`sha256sum < ${src}; dd if=${mnt}/big bs=1M iflag=direct status=none | sha256sum`, dir);
    const [expected, actual] = sums.trim().split('\n');
    expect(actual).to.equal(expected);
    expect(fs.stats.maxWriteBytes).to.be.greaterThan(128 * 1024);
    expect(fs.stats.maxWriteBytes).to.equal(MIB);
    expect(await ok('stat -c %s big', mnt)).to.equal(`${64 * MIB}\n`);
  });

  it('serves many requests at once', async () => {
    const script = Array.from({ length: 8 }, (_, i) => `(dd if=/dev/urandom of=p${i} bs=64k count=32 status=none && cmp p${i} p${i} && sha256sum p${i} > p${i}.sum) &`).join('\n');
    await ok(`${script}\nwait; cat p*.sum | sha256sum -c --quiet`, mnt);
  });

  it('truncates, chmods, sets times and makes fifos', async () => {
    await ok('echo 123456789 > t && truncate -s 4 t && truncate -s 100000 t2', mnt);
    expect(await ok('stat -c %s t t2 && cat t', mnt)).to.equal('4\n100000\n1234');
    await ok('chmod 0640 t && touch -d "2001-02-03 04:05:06" t', mnt);
    expect(await ok('stat -c "%a %Y" t', mnt)).to.equal(`640 ${Date.UTC(2001, 1, 3, 4, 5, 6) / 1000}\n`);
    await ok('touch -d "1960-01-01 00:00:00" old', mnt);
    expect(await ok('stat -c %Y old', mnt)).to.equal(`${Date.UTC(1960, 0, 1) / 1000}\n`);
    await ok('mkfifo fifo', mnt);
    expect(await ok('stat -c %F fifo', mnt)).to.equal('fifo\n');
    // O_TRUNC travels in open (FUSE_ATOMIC_O_TRUNC).
    await ok('echo longer-content > t3 && echo s > t3', mnt);
    expect(await ok('cat t3', mnt)).to.equal('s\n');
  });

  it('renames over an existing file and removes trees', async () => {
    await ok('echo one > r1 && echo two > r2 && mv -f r1 r2', mnt);
    expect(await ok('cat r2; ls', mnt)).to.not.match(/^r1$/m);
    expect(await ok('cat r2', mnt)).to.equal('one\n');
    // mv -n is renameat2(RENAME_NOREPLACE): FUSE_RENAME2 with its flags.
    await ok('echo keep > n2 && echo new > n1 && mv -n n1 n2', mnt);
    expect(await ok('cat n2 n1', mnt)).to.equal('keep\nnew\n');
    await ok('mkdir -p tree/x/y && touch tree/x/y/z tree/w && rm -r tree', mnt);
    expect((await sh('ls tree', mnt)).code).to.not.equal(0);
  });

  it('copies with cp -a, tar and rsync -a (no xattrs: the kernel answers EOPNOTSUPP)', async () => {
    await ok('mkdir -p src/d && echo a > src/d/f && ln -s d/f src/l', mnt);
    await ok('cp -a src cpa && tar -cf - src | (mkdir untarred && tar -xf - -C untarred) && rsync -a src/ rs/', mnt);
    expect(await ok('cat cpa/d/f untarred/src/l rs/l', mnt)).to.equal('a\na\na\n');
  });

  it('answers statfs (df)', async () => {
    const out = await ok('df -k --output=fstype,size,avail .', mnt);
    expect(out).to.match(/fuse\.dfs\s+4194304\s+2097152/);
  });

  it('reports file-system errors as their errno', async () => {
    expect((await sh('cat missing', mnt)).stderr).to.match(/No such file or directory/);
    expect((await sh('rmdir a', mnt)).stderr).to.match(/Directory not empty/);
    expect((await sh('fallocate -l 1M f', mnt)).stderr).to.match(/Operation not supported/);
  });
});

describe('FUSE session: a server killed with SIGKILL', function () {
  this.timeout(30_000);
  let dir: string;
  let mnt: string;
  const children = new Set<ChildProcess>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-fuse-kill-'));
    mnt = join(dir, 'mnt');
    await mkdir(mnt);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if ((await findMount(mnt)) !== undefined) await unmountFuse(mnt, silentLogger);
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts memory-mount.js on `mnt`; resolves once it has mounted, rejects if it exits first. */
  async function startServer(name: string, readers: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
    const readyFile = join(dir, `${name}.ready`);
    const logFile = join(dir, `${name}.log`);
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, [MEMORY_MOUNT, mnt, readyFile, String(readers)], { stdio: ['ignore', log, log], env });
    closeSync(log);
    children.add(child);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${await readFile(logFile, 'utf8')}`);
      const ready = await readFile(readyFile, 'utf8').catch(() => undefined);
      if (ready !== undefined) return child;
      await sleep(20);
    }
    throw new Error(`${name} did not mount in time:\n${await readFile(logFile, 'utf8')}`);
  }

  function exited(child: ChildProcess): Promise<number | string> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)));
  }

  it('refuses to mount with a thread pool too small for its readers', async () => {
    const env = { ...process.env, UV_THREADPOOL_SIZE: '4' };
    const error = await startServer('small-pool', 4, env).then(() => undefined, (err: Error) => err);
    expect(error?.message).to.match(/exited \(1\)[\s\S]*UV_THREADPOOL_SIZE=6/);
    expect(await findMount(mnt)).to.equal(undefined);
  });

  it('leaves a dead mount that the next server clears and serves', async () => {
    const env = { ...process.env, UV_THREADPOOL_SIZE: String(threadPoolSizeFor(4)) };
    const first = await startServer('first', 4, env);
    expect(await ok('echo one > x && cat x', mnt)).to.equal('one\n');
    first.kill('SIGKILL');
    expect(await exited(first)).to.equal('SIGKILL');
    // The kernel aborted the connection with the process: the mount is still there, and dead.
    expect((await findMount(mnt))?.fsType).to.equal('fuse.dfs');
    expect((await sh(`stat ${mnt}`, dir)).stderr).to.match(/Transport endpoint is not connected/);

    const second = await startServer('second', 4, env);
    expect(await ok('ls -A; echo two > y && cat y', mnt)).to.equal('two\n');
    second.kill('SIGTERM');
    expect(await exited(second)).to.equal(0);
    expect(await findMount(mnt)).to.equal(undefined);
  });
});

describe('FUSE session: throughput (printed, not asserted)', function () {
  this.timeout(60_000);
  let dir: string;
  let mnt: string;
  let fs: MemoryFileSystem;
  let session: FuseSession | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-fuse-perf-'));
    mnt = join(dir, 'mnt');
    await mkdir(mnt);
    // Timeouts of 0: every stat reaches the file system, so the figures are round trips through the session.
    fs = new MemoryFileSystem({ discardWrites: true, attrTimeoutMs: 0, entryTimeoutMs: 0 });
    session = await FuseSession.mount(mnt, fs, { maxReadaheadBytes: MIB });
  });

  after(async () => {
    await forceUnmount(session, mnt);
    await rm(dir, { recursive: true, force: true });
  });

  /** Wall time, this process's CPU time and the file system's requests for `work`. */
  async function measure(work: () => Promise<unknown>): Promise<{ seconds: number; cpuSeconds: number; requests: number }> {
    const requests = fs.stats.requests;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await work();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    return { seconds, cpuSeconds: (used.user + used.system) / 1e6, requests: fs.stats.requests - requests };
  }

  it('dd of 512 MiB into a discarding file system', async () => {
    const m = await measure(() => ok('dd if=/dev/zero of=sink bs=1M count=512 status=none', mnt));
    const mb = (512 * MIB) / 1e6;
    console.log(`      dd 512 MiB: ${(mb / m.seconds).toFixed(0)} MB/s, ${((m.cpuSeconds / mb) * 1000).toFixed(2)} CPU-s/GB in the server, ${fs.stats.writes} writes, largest ${fs.stats.maxWriteBytes} bytes`);
  });

  it('reads 512 MiB through the page cache (1 MiB readahead) and directly', async () => {
    const mb = (512 * MIB) / 1e6;
    await ok('truncate -s 512M zeros', mnt);
    const buffered = await measure(() => ok('dd if=zeros of=/dev/null bs=1M status=none', mnt));
    const direct = await measure(() => ok('dd if=zeros of=/dev/null bs=1M iflag=direct status=none', mnt));
    for (const [how, m] of [['buffered', buffered], ['O_DIRECT', direct]] as const) {
      console.log(`      read 512 MiB ${how}: ${(mb / m.seconds).toFixed(0)} MB/s, ${((m.cpuSeconds / mb) * 1000).toFixed(2)} CPU-s/GB in the server`);
    }
    expect(fs.stats.bytesRead).to.be.at.least(2 * 512 * MIB);
  });

  it('creates, finds and stats 10k files', async () => {
    const n = 10_000;
    await ok('mkdir d', mnt);
    const created = await measure(() => ok(`perl -e 'for (1..${n}) { open(my $f, ">", "d/f$_") or die "$!"; close $f }'`, mnt));
    console.log(`      create: ${(n / created.seconds).toFixed(0)} creates/s (${(created.requests / created.seconds).toFixed(0)} requests/s)`);
    const found = await measure(() => ok(`find d -printf '%s\\n' | wc -l`, mnt));
    console.log(`      find -printf %s over ${n}: ${(n / found.seconds).toFixed(0)} entries/s (${(found.requests / found.seconds).toFixed(0)} requests/s)`);
    const loops = 20_000;
    const stats = await measure(() => ok(`perl -e 'for (1..${loops}) { stat("d/f1") or die "$!" }'`, mnt));
    console.log(`      stat of one file: ${(loops / stats.seconds).toFixed(0)} stats/s (${(stats.requests / stats.seconds).toFixed(0)} requests/s, ${((stats.cpuSeconds / stats.requests) * 1e6).toFixed(0)} µs CPU per request in the server)`);
  });
});
