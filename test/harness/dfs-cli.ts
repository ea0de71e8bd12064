import { spawn } from 'node:child_process';
import { DFS_ENTRY } from '../../cli/process-launcher.js';
import type { TestCluster, TestIdentity } from './test-cluster.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real `dfs` binary against this cluster's masters, as `who` (its admin by default). */
export function dfs(cluster: TestCluster, args: string[], who: TestIdentity = 'admin'): Promise<CliRun> {
  const securityArgs = cluster.securityArgs(who);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DFS_ENTRY, ...args, '--masters', cluster.masters.join(','), ...securityArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
