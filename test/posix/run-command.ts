/**
 * Runs one external command and keeps the tail of its output: the ordinary
 * tools workload is a series of such commands, each a child process, so the
 * calling process never touches the directory under test.
 */
import { spawn } from 'node:child_process';

/** A stuck mount must fail the check, not hang the suite. */
const COMMAND_TIMEOUT_MS = 10 * 60_000;
/** Output kept per stream by default: enough for a diff excerpt or a git error. */
const DEFAULT_KEEP_BYTES = 16 * 1024;

export interface CommandResult {
  /** Exit code, or null when killed (timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when stdout was longer than what was kept. */
  stdoutTruncated: boolean;
}

export interface CommandOptions {
  /** Bytes of each stream kept (the tail); raise it for listings that are parsed. */
  keepBytes?: number;
}

export function runCommand(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const keepBytes = options.keepBytes ?? DEFAULT_KEEP_BYTES;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    const out = new OutputTail(keepBytes);
    const err = new OutputTail(keepBytes);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: out.text(), stderr: err.text(), stdoutTruncated: out.truncated }),
    );
  });
}

/** `cmd args: exit 1: <stderr tail>`: what a failed check reports. */
export function describeFailure(command: string, args: readonly string[], result: CommandResult): string {
  const status = result.code === null ? `killed by ${result.signal}` : `exit ${result.code}`;
  const output = `${result.stderr}${result.stdout}`.trim().slice(-2000);
  return `${command} ${args.join(' ')}: ${status}${output ? `: ${output}` : ''}`;
}

class OutputTail {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly keepBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0]!.length >= this.keepBytes) {
      this.bytes -= this.chunks.shift()!.length;
      this.truncated = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    if (all.length > this.keepBytes) this.truncated = true;
    return all.subarray(Math.max(0, all.length - this.keepBytes)).toString();
  }
}
