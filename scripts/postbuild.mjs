// Makes the CLI entry point executable so that `npx dfs` and the bin link work.
import { chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'dfs.js');
if (existsSync(bin)) chmodSync(bin, 0o755);
