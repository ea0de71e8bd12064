/**
 * One-line, C-like descriptions of steps for results and mismatch reports:
 * `user-b: unlink("f")`, `user-a: open("f", O_CREAT|O_WRONLY, 0644) -> f`.
 */
import { assertNever } from '../../common/assert.js';
import type { Step } from './case-types.js';

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

function q(path: string): string {
  // Long generated names (ENAMETOOLONG cases) would drown the report.
  return path.length > 40 ? JSON.stringify(`${path.slice(0, 12)}…(${path.length} chars)`) : JSON.stringify(path);
}

function call(step: Step): string {
  switch (step.op) {
    case 'open':
      return `open(${q(step.path)}, ${step.flags.join('|')}${step.mode === undefined ? '' : `, ${octal(step.mode)}`}) -> ${step.fd}`;
    case 'close':
      return `close(${step.fd})`;
    case 'write':
      return step.position === undefined ? `write(${step.fd}, ${JSON.stringify(step.data)})` : `pwrite(${step.fd}, ${JSON.stringify(step.data)}, ${step.position})`;
    case 'read':
      return step.position === undefined ? `read(${step.fd}, ${step.length})` : `pread(${step.fd}, ${step.length}, ${step.position})`;
    case 'fstat':
      return `fstat(${step.fd})`;
    case 'ftruncate':
      return `ftruncate(${step.fd}, ${step.length})`;
    case 'writeFile':
      return `writeFile(${q(step.path)}, ${JSON.stringify(step.data)}, ${octal(step.mode)})`;
    case 'readFile':
    case 'readdir':
    case 'rmdir':
    case 'unlink':
    case 'readlink':
    case 'stat':
    case 'lstat':
      return `${step.op}(${q(step.path)})`;
    case 'mkdir':
    case 'chmod':
    case 'mkfifo':
      return `${step.op}(${q(step.path)}, ${octal(step.mode)})`;
    case 'rename':
      return `rename(${q(step.from)}, ${q(step.to)})`;
    case 'link':
      return `link(${q(step.existing)}, ${q(step.path)})`;
    case 'symlink':
      return `symlink(${q(step.target)}, ${q(step.path)})`;
    case 'chown':
      return `${step.noFollow ? 'lchown' : 'chown'}(${q(step.path)}, ${step.owner ?? '-1'}, ${step.group ?? '-1'})`;
    case 'truncate':
      return `truncate(${q(step.path)}, ${step.length})`;
    case 'utimes': {
      const times = step.times === 'now' ? 'NULL (now)' : `atime ${step.times.atimeSec}, mtime ${step.times.mtimeSec}`;
      return `${step.noFollow ? 'lutimes' : 'utimes'}(${q(step.path)}, ${times})`;
    }
    default:
      return assertNever(step, 'step');
  }
}

export function describeStep(step: Step): string {
  return `${step.as}: ${call(step)}`;
}
