import { spawn } from 'node:child_process';
import { DFS_ENTRY } from '../../cli/process-launcher.js';
import type { TestCluster } from './test-cluster.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real `dfs` binary against this cluster's masters. */
export function dfs(cluster: TestCluster, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DFS_ENTRY, ...args, '--masters', cluster.masters.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
