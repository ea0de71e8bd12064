import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DFS_ENTRY, SERVER_NODE_ARGS } from '../../../cli/process-launcher.js';

/**
 * `dfs` run directly (the bin link, the systemd units, a shell) must get the
 * same V8 flags the launcher gives the processes it starts: its first line
 * names them.
 */
describe('the dfs entry point', () => {
  it('runs node with the server V8 flags from its #! line', async () => {
    const first = (await readFile(DFS_ENTRY, 'utf8')).split('\n', 1)[0];
    expect(first).to.equal(`#!/usr/bin/env -S node ${SERVER_NODE_ARGS.join(' ')}`);
  });

  it('runs as an executable through that line', async () => {
    const help = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(DFS_ENTRY, ['--help'], (err, stdout) => resolve({ code: err === null ? 0 : Number(err.code), stdout }));
    });
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: dfs/);
  });
});
