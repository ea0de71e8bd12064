import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DFS_ENTRY, SERVER_NODE_ARGS, isAlive } from '../../cli/process-launcher.js';
import { readClusterFile } from '../../cli/cluster-file.js';
import { startCluster } from '../../cli/cluster-commands.js';
import { TestCluster } from '../harness/test-cluster.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dfs(args: string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DFS_ENTRY, ...args], { env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(options.input ?? Buffer.alloc(0));
  });
}

describe('the dfs command line', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let work: string;
  let masters: string[];

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 3 });
    masters = ['--masters', cluster.masters.join(','), ...cluster.securityArgs('admin')];
    work = await mkdtemp(join(tmpdir(), 'dfs-cli-'));
  });
  after(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('puts and gets a multi-chunk file byte for byte, and cats it', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 99);
    await writeFile(join(work, 'in.bin'), data);
    const put = await dfs(['put', join(work, 'in.bin'), '/cli/in.bin', ...masters]);
    expect(put.code, put.stderr).to.equal(1);
    expect(put.stderr).to.match(/NOT_FOUND/);
    expect((await dfs(['mkdir', '-p', '/cli', ...masters])).code).to.equal(0);
    const again = await dfs(['put', join(work, 'in.bin'), '/cli/in.bin', ...masters]);
    expect(again.code, again.stderr).to.equal(0);
    const get = await dfs(['get', '/cli/in.bin', join(work, 'out.bin'), ...masters]);
    expect(get.code, get.stderr).to.equal(0);
    expect((await readFile(join(work, 'out.bin'))).equals(data)).to.equal(true);
    const cat = await new Promise<Buffer>((resolve) => {
      execFile(process.execPath, [DFS_ENTRY, 'cat', '/cli/in.bin', ...masters], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (_e, stdout) => resolve(stdout));
    });
    expect(cat.equals(data)).to.equal(true);
  });

  it('appends records from stdin and prints their offsets', async () => {
    const offsets = [];
    for (const text of ['one\n', 'two\n', 'three\n']) {
      const run = await dfs(['append', '/cli/log', '-', ...masters], { input: Buffer.from(text) });
      expect(run.code, run.stderr).to.equal(0);
      offsets.push(Number(run.stdout.trim()));
    }
    expect(offsets).to.deep.equal([0, 4, 8]);
    expect((await dfs(['cat', '/cli/log', ...masters])).stdout).to.equal('one\ntwo\nthree\n');
  });

  it('lists, stats, renames and deletes, with --json for scripts and DFS_MASTERS in the environment', async () => {
    const env = { DFS_MASTERS: cluster.masters.join(','), DFS_TLS_DIR: cluster.credentialsDir('admin') };
    const ls = await dfs(['ls', '/cli', '--json'], { env });
    expect(ls.code, ls.stderr).to.equal(0);
    expect((JSON.parse(ls.stdout) as { name: string }[]).map((e) => e.name)).to.deep.equal(['in.bin', 'log']);
    const stat = JSON.parse((await dfs(['stat', '/cli/log', '--json'], { env })).stdout) as { size: number; kind: string };
    expect(stat).to.include({ size: 14, kind: 'file' });
    expect((await dfs(['mv', '/cli/log', '/cli/log2'], { env })).code).to.equal(0);
    expect((await dfs(['mv', '-n', '/cli/in.bin', '/cli/log2'], { env })).stderr).to.match(/ALREADY_EXISTS/);
    const rmDir = await dfs(['rm', '/cli', '--json'], { env });
    expect(rmDir.code).to.equal(1);
    expect(JSON.parse(rmDir.stderr)).to.deep.equal({ error: { code: 'NOT_EMPTY', message: '/cli is not empty' } });
    expect((await dfs(['rm', '-r', '/cli'], { env })).code).to.equal(0);
    const missing = await dfs(['stat', '/cli'], { env });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/^dfs: NOT_FOUND: /);
  });

  it('stops what it started when a cluster cannot come up', async () => {
    const dir = join(work, 'broken');
    let failure: unknown;
    try {
      // A chunkserver with an invalid zone refuses to start, after the master did.
      await startCluster({ dir, masters: 1, chunkservers: 1, chunkSizeBytes: 1024 * 1024, detach: false, chunkserverArgs: ['--zone', ''], readyTimeoutMs: 20_000 });
    } catch (err) {
      failure = err;
    }
    expect(String(failure)).to.match(/chunkserver exited/);
    const masterLog = await readFile(join(dir, 'master-0', 'ready.json'), 'utf8');
    const { pid } = JSON.parse(masterLog) as { pid: number };
    expect(isAlive(pid), 'the master it started is stopped again').to.equal(false);
  });

  it('explains a missing cluster address and exits 2', async () => {
    const run = await dfs(['ls', '/', '--dir', join(work, 'nowhere')], { env: { DFS_MASTERS: '' } });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/--masters/);
  });

  it('starts a detached local cluster with large chunks, finds it through cluster.json, and stops it', async () => {
    const dir = join(work, 'local');
    const start = await dfs(['cluster', 'start', '--dir', dir, '--chunkservers', '1', '--chunk-size', '128MiB', '--detach']);
    expect(start.code, start.stderr).to.equal(0);
    const file = await readClusterFile(dir);
    try {
      expect(file!.processes.map((p) => p.name).sort()).to.deep.equal(['chunkserver-0', 'master-0', 'master-1', 'master-2']);
      expect(file!.masters).to.have.length(3);
      for (const p of file!.processes) {
        const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).split('\0');
        expect(argv.slice(1, 1 + SERVER_NODE_ARGS.length), `${p.name}'s node flags`).to.deep.equal(SERVER_NODE_ARGS);
      }
      expect((await dfs(['mkdir', '/x', '--dir', dir], { env: { DFS_MASTERS: '' } })).code).to.equal(0);
      const put = await dfs(['append', '/x/y', '-', '--dir', dir], { env: { DFS_MASTERS: '' }, input: Buffer.from('hi') });
      expect(put.code, put.stderr).to.equal(0);
      // Past 64 MiB inside one 128 MiB chunk.
      const big = randomBytes(64 * 1024 * 1024 + 4096);
      await writeFile(join(work, 'big.bin'), big);
      const bigPut = await dfs(['put', join(work, 'big.bin'), '/x/big', '--dir', dir], { env: { DFS_MASTERS: '' } });
      expect(bigPut.code, bigPut.stderr).to.equal(0);
      expect((await dfs(['get', '/x/big', join(work, 'big.out'), '--dir', dir], { env: { DFS_MASTERS: '' } })).code).to.equal(0);
      expect((await readFile(join(work, 'big.out'))).equals(big)).to.equal(true);

      // The masters' Raft group: three voters, one leader; leadership moves on request.
      const raft = (run: Run) => JSON.parse(run.stdout) as { leader: { id: string }; members: { id: string; role: string; voter: boolean }[] };
      const status = raft(await dfs(['admin', 'raft', 'status', '--json', '--dir', dir], { env: { DFS_MASTERS: '' } }));
      expect(status.members.map((m) => m.id).sort()).to.deep.equal(['master-0', 'master-1', 'master-2']);
      expect(status.members.filter((m) => m.role === 'leader').map((m) => m.id)).to.deep.equal([status.leader.id]);
      expect(status.members.every((m) => m.voter)).to.equal(true);
      const target = ['master-0', 'master-1', 'master-2'].find((m) => m !== status.leader.id)!;
      const moved = await dfs(['admin', 'raft', 'transfer', target, '--dir', dir], { env: { DFS_MASTERS: '' } });
      expect(moved.code, moved.stderr).to.equal(0);
      const after = raft(await dfs(['admin', 'raft', 'status', '--json', '--dir', dir], { env: { DFS_MASTERS: '' } }));
      expect(after.leader.id).to.equal(target);
      const unknown = await dfs(['admin', 'raft', 'remove', 'no-such-master', '--dir', dir], { env: { DFS_MASTERS: '' } });
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.match(/NOT_FOUND/);
    } finally {
      const stop = await dfs(['cluster', 'stop', '--dir', dir]);
      expect(stop.code, stop.stderr).to.equal(0);
    }
    for (const p of file!.processes) expect(isAlive(p.pid), `${p.name} stopped`).to.equal(false);
  });
});
