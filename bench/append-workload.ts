import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClientSecurity } from '../client-lib/client-options.js';
import { DfsClient } from '../client-lib/index.js';

const RECORD_BYTES = 1024;
const APPENDER = fileURLToPath(new URL('./posix-appender.js', import.meta.url));

export interface AppendOptions {
  clients: number;
  appendsPerClient: number;
}

/**
 * Record appends of 1 KiB from `clients` DfsClient instances (each its own
 * connections and session, all in this process) to one new file `path`;
 * appends per second over all of them. Every returned offset must be
 * distinct: a duplicate would mean the measurement counted a lost record.
 */
export async function dfsRecordAppendsPerSecond(masters: string[], security: ClientSecurity, path: string, options: AppendOptions): Promise<number> {
  const clients = await Promise.all(Array.from({ length: options.clients }, () => DfsClient.connect({ masters, security })));
  try {
    await clients[0]!.create(path);
    const files = await Promise.all(clients.map((c) => c.open(path)));
    const record = randomBytes(RECORD_BYTES);
    const offsets = new Set<number>();
    const started = performance.now();
    await Promise.all(
      files.map(async (file) => {
        for (let i = 0; i < options.appendsPerClient; i++) offsets.add(await file.append(record));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(files.map((f) => f.close()));
    const total = options.clients * options.appendsPerClient;
    if (offsets.size !== total) throw new Error(`${total} appends returned ${offsets.size} distinct offsets`);
    await clients[0]!.delete(path);
    return total / seconds;
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * 1 KiB appends through a mount from `clients` processes that each open
 * `file` with O_APPEND (posix-appender.js), each write followed by
 * fdatasync when `sync`; appends per second from the moment all are told to
 * start until the last one exits. The file must end up exactly as long as
 * everything written.
 */
export async function posixAppendsPerSecond(file: string, options: AppendOptions & { sync: boolean }): Promise<number> {
  const children: ChildProcess[] = [];
  try {
    const exits: Promise<void>[] = [];
    const readies: Promise<void>[] = [];
    for (let i = 0; i < options.clients; i++) {
      const child = spawn(process.execPath, [APPENDER, file, String(options.appendsPerClient), options.sync ? '1' : '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      exits.push(
        new Promise<void>((resolve, reject) =>
          child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`appender ${child.pid} exited (${signal ?? code})`)))),
        ),
      );
      const lines = createInterface({ input: child.stdout! });
      readies.push(new Promise<void>((resolve) => lines.once('line', () => resolve())));
    }
    // An appender that dies before it is ready rejects its exit promise: race the two.
    await Promise.race([Promise.all(readies), Promise.all(exits)]);
    const started = performance.now();
    for (const child of children) child.stdin!.end('go\n');
    await Promise.all(exits);
    const seconds = (performance.now() - started) / 1000;
    const total = options.clients * options.appendsPerClient;
    const size = (await stat(file)).size;
    if (size !== total * RECORD_BYTES) throw new Error(`${total} appends of ${RECORD_BYTES} bytes left ${file} at ${size} bytes`);
    return total / seconds;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
