import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsClient } from '../../client-lib/index.js';
import { readClusterFile, type ClusterFile } from '../../cli/cluster-file.js';
import { DFS_ENTRY } from '../../cli/process-launcher.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dfs(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DFS_ENTRY, ...args], { env: { ...process.env, DFS_MASTERS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

function chunkserverPids(file: ClusterFile): Map<string, number> {
  return new Map(file.processes.filter((p) => p.role === 'chunkserver').map((p) => [p.name, p.pid]));
}

describe('growing a detached local cluster with dfs cluster start --chunkservers N', function () {
  this.timeout(120_000);
  let work: string;
  let dir: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dfs-grow-'));
    dir = join(work, 'cluster');
  });
  after(async () => {
    // Stops whatever a failed run left, then removes its data.
    if (dir !== undefined && (await readClusterFile(dir).catch(() => undefined)) !== undefined) await dfs(['cluster', 'stop', '--dir', dir]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('adds chunkservers on new ports and data dirs, leaves the running ones alone, and names the dashboard', async () => {
    const first = await dfs(['cluster', 'start', '--dir', dir, '--masters', '1', '--chunkservers', '3', '--detach']);
    expect(first.code, first.stderr).to.equal(0);
    const before = (await readClusterFile(dir))!;
    expect([...chunkserverPids(before).keys()].sort()).to.deep.equal(['chunkserver-0', 'chunkserver-1', 'chunkserver-2']);
    expect(first.stdout).to.include(`dashboard: ${before.dashboard}`);

    const grown = await dfs(['cluster', 'start', '--dir', dir, '--masters', '1', '--chunkservers', '5', '--detach']);
    expect(grown.code, grown.stderr).to.equal(0);
    const after = (await readClusterFile(dir))!;
    const pids = chunkserverPids(after);
    expect([...pids.keys()].sort()).to.deep.equal(['chunkserver-0', 'chunkserver-1', 'chunkserver-2', 'chunkserver-3', 'chunkserver-4']);
    for (const [name, pid] of chunkserverPids(before)) expect(pids.get(name), `${name} untouched`).to.equal(pid);
    expect(after.processes.find((p) => p.role === 'master')!.pid).to.equal(before.processes.find((p) => p.role === 'master')!.pid);
    const servers = after.processes.filter((p) => p.role === 'chunkserver');
    expect(new Set(servers.map((p) => p.port)).size, 'distinct ports').to.equal(5);
    expect(new Set(servers.map((p) => p.dataDir)).size, 'distinct data dirs').to.equal(5);
    expect(servers.every((p) => p.zone === 'default' && p.rack === 'default')).to.equal(true);

    const client = await DfsClient.connect({ masters: after.masters, security: after.security });
    try {
      const registered = await client.listChunkservers();
      const live = registered.filter((s) => s.alive).map((s) => s.server!.address).sort();
      expect(live).to.deep.equal(servers.map((p) => p.address).sort());
    } finally {
      client.close();
    }

    const master = after.processes.find((p) => p.role === 'master')!;
    expect(after.dashboard).to.equal(`http://${master.address.slice(0, master.address.lastIndexOf(':'))}:${master.httpPort}/`);
    const health = await fetch(new URL('healthz', after.dashboard));
    expect(health.status).to.equal(200);
    expect(((await health.json()) as { role: string }).role).to.equal('leader');

    // Fewer than it has removes nothing.
    const fewer = await dfs(['cluster', 'start', '--dir', dir, '--masters', '1', '--chunkservers', '2', '--detach']);
    expect(fewer.code, fewer.stderr).to.equal(0);
    expect(chunkserverPids((await readClusterFile(dir))!)).to.deep.equal(pids);

    const bad = await dfs(['cluster', 'start', '--dir', dir, '--masters', '1', '--chunkservers', 'many', '--detach']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^dfs: INVALID_ARGUMENT: the number of chunkservers/);

    const stop = await dfs(['cluster', 'stop', '--dir', dir, '--json']);
    expect(stop.code, stop.stderr).to.equal(0);
    expect((JSON.parse(stop.stdout) as { stopped: string[] }).stopped).to.have.length(6);
  });
});
