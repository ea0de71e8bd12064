#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { addAdminCommands } from './admin-commands.js';
import { addClusterCommands } from './cluster-commands.js';
import { addFileCommands } from './file-commands.js';
import { createOutput } from './output.js';
import { addProcessCommands } from './process-commands.js';

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
  addAdminCommands(program, output, env);
  addProcessCommands(program, env);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    return output.error(err);
  }
}

main(process.argv, process.env).then(
  (code) => {
    // Servers keep running; every other command exits with its code.
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`dfs: ${String(err)}\n`);
    process.exit(1);
  },
);
