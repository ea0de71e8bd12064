import { isDfsError } from '../common/errors.js';

/** How a command reports: human text, or one JSON document for scripts (--json). */
export interface Output {
  result(value: unknown, human: () => string): void;
  /** Prints the error and returns the exit code. */
  error(err: unknown): number;
}

export function createOutput(json: () => boolean, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Output {
  return {
    result(value, human) {
      const text = json() ? JSON.stringify(value, null, 2) : human();
      if (text !== '') stdout.write(text + '\n');
    },
    error(err) {
      const code = isDfsError(err) ? err.code : 'ERROR';
      const message = err instanceof Error ? err.message : String(err);
      if (json()) stderr.write(JSON.stringify({ error: { code, message } }) + '\n');
      else stderr.write(`dfs: ${code === 'ERROR' ? '' : code + ': '}${message}\n`);
      return code === 'INVALID_ARGUMENT' ? 2 : 1;
    },
  };
}
