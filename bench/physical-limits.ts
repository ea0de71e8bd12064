import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MIB, run } from './mount-workloads.js';

const MB = 1e6;
const LOOPBACK_PEER = fileURLToPath(new URL('./loopback-peer.js', import.meta.url));

/**
 * What this machine can do at best, measured in the same run as the file
 * systems: writing to the local disk past the page cache (dd oflag=direct,
 * 1 MiB blocks) in the temporary directory, where the clusters keep their
 * data; MB/s, 1e6 bytes per second.
 */
export async function diskDirectWriteMBps(bytes: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-disk-'));
  try {
    const count = Math.ceil(bytes / MIB);
    const started = performance.now();
    await run('dd', ['if=/dev/zero', `of=${join(dir, 'direct')}`, 'bs=1M', `count=${count}`, 'oflag=direct', 'conv=fsync']);
    return (count * MIB) / MB / ((performance.now() - started) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One TCP stream over 127.0.0.1 between two node processes for `seconds`
 * (loopback-peer.js); MB/s as the receiver counts it. Node on both ends, as
 * in our servers, so this is the ceiling of one gRPC stream's transport,
 * not of the kernel alone.
 */
export async function loopbackTcpMBps(seconds: number): Promise<number> {
  const receiver = spawn(process.execPath, [LOOPBACK_PEER, 'receive'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let sender: ReturnType<typeof spawn> | undefined;
  try {
    const exited = new Promise<number | null>((resolve) => receiver.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]();
    const port = await lines.next();
    if (port.done === true) throw new Error(`the loopback receiver exited (${String(await exited)}) without a port`);
    sender = spawn(process.execPath, [LOOPBACK_PEER, 'send', port.value, String(seconds)], { stdio: ['ignore', 'ignore', 'inherit'] });
    const result = await lines.next();
    if (result.done === true) throw new Error(`the loopback receiver exited (${String(await exited)}) without a result`);
    const [bytes, elapsed] = result.value.split(' ').map(Number);
    if (!(bytes! > 0 && elapsed! > 0)) throw new Error(`the loopback receiver got nothing measurable: ${result.value}`);
    return bytes! / MB / elapsed!;
  } finally {
    // Both end by themselves once the stream is over; these only matter when something failed.
    if (sender !== undefined && sender.exitCode === null) sender.kill('SIGKILL');
    if (receiver.exitCode === null) receiver.kill('SIGKILL');
  }
}
