// Makes the CLI entry point executable so that `npx dfs` and the bin link work,
// and copies the dashboard's static files (no build step of their own) beside
// the module that serves them.
import { chmodSync, cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist', 'cli', 'dfs.js');
if (existsSync(bin)) chmodSync(bin, 0o755);
cpSync(join(root, 'master', 'dashboard'), join(root, 'dist', 'master', 'dashboard'), { recursive: true });
