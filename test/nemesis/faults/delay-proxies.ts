import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ExitCleanup } from '../../../common/exit-cleanup.js';
import type { Host } from '../../harness/netns.js';
import { iptables } from '../network.js';

const run = promisify(execFile);
const PROXY_MAIN = fileURLToPath(new URL('./delay-proxy-main.js', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

interface Proxy {
  readonly host: Host;
  readonly child: ChildProcess;
}

/**
 * A delay proxy in front of each server port given (the masters'), inside
 * the server's own host: iptables REDIRECTs every connection arriving on
 * eth0 for the port to the proxy, which forwards to the real port. The
 * proxies pass bytes through untouched until a fault sets a delay, so
 * installing them once, before the workloads start, puts every peer and
 * client behind them for the whole run (a server restarted on its port is
 * behind its proxy too).
 */
export class DelayProxies {
  private readonly proxies = new Map<string, Proxy>();

  /** Puts a proxy in front of `port` on `host`, and cuts the connections that were made before it. */
  async add(name: string, host: Host, port: number): Promise<void> {
    const child = spawn(host.wrapper[0]!, [...host.wrapper.slice(1), process.execPath, PROXY_MAIN, host.address, String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanup.track(child);
    this.proxies.set(name, { host, child });
    const proxyPort = await readyPort(child);
    await iptables(host, '-t', 'nat', '-A', 'PREROUTING', '-i', 'eth0', '-p', 'tcp', '--dport', String(port), '-j', 'REDIRECT', '--to-ports', String(proxyPort));
    // Connections accepted before the rule bypass the proxy for good: reset them, their owners reconnect through it.
    await run('ip', ['netns', 'exec', host.name, 'ss', '-K', 'state', 'established', `( sport = :${port} )`]);
  }

  setDelay(name: string, delayMs: number): void {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) throw new Error(`no delay proxy in front of ${name}`);
    proxy.child.stdin!.write(`delay ${Math.round(delayMs)}\n`);
  }

  get names(): string[] {
    return [...this.proxies.keys()];
  }

  stop(): void {
    for (const { child } of this.proxies.values()) stopProxy(child);
    this.proxies.clear();
  }
}

function stopProxy(child: ChildProcess): void {
  cleanup.untrack(child);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

const cleanup = new ExitCleanup<ChildProcess>(stopProxy);

function readyPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the delay proxy was not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const m = /ready (\d+)\n/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the delay proxy exited (${signal ?? code}) before it was ready`));
    });
  });
}
