/** The path of the compiled run-cases entry point, which both runners and workers are started from. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RUN_CASES_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'run-cases.js');
