#!/usr/bin/env -S node --initial-old-space-size=128
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { Command, CommanderError } from 'commander';
import { addAdminCommands } from './admin-commands.js';
import { addClusterCommands } from './cluster-commands.js';
import { addFileCommands } from './file-commands.js';
import { addMountCommands } from './mount-commands.js';
import { createOutput } from './output.js';
import { addProcessCommands } from './process-commands.js';
import { addSecurityCommands } from './security-commands.js';
import { MOUNT_READERS } from './mount-commands.js';
import { threadPoolSizeFor } from '../fuse/fuse-session.js';

/** The `dfs` command: files, local clusters, and the processes of a deployment. */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const program = new Command('dfs')
    .description('a GFS-style distributed file system')
    .option('--json', 'print results as JSON, for scripts', false)
    .showHelpAfterError()
    .exitOverride();
  const json = () => program.opts<{ json: boolean }>().json;
  const output = createOutput(json, process.stdout, process.stderr);
  addFileCommands(program, output, env, json);
  addClusterCommands(program, output);
  addAdminCommands(program, output, env, json);
  addProcessCommands(program, env);
  addMountCommands(program, output, env);
  addSecurityCommands(program, output);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    return output.error(err);
  }
}

/**
 * A mount keeps blocking reads of /dev/fuse outstanding in libuv's pool,
 * which is sized from UV_THREADPOOL_SIZE when first used, and in an ES
 * module that is before any of our code runs. So `dfs mount` without a big
 * enough pool runs itself again with one, passing on signals and exit code.
 */
function reexecMountWithPool(): boolean {
  if (process.argv.slice(2).find((a) => !a.startsWith('-')) !== 'mount') return false;
  const wanted = threadPoolSizeFor(MOUNT_READERS);
  if (Number(process.env.UV_THREADPOOL_SIZE ?? 0) >= wanted) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(wanted) },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + osConstants.signals[signal])));
  return true;
}

if (!reexecMountWithPool()) main(process.argv, process.env).then(
  (code) => {
    // Servers keep running; every other command exits with its code.
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`dfs: ${String(err)}\n`);
    process.exit(1);
  },
);
