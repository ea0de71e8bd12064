import { execFile, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { isAlive, terminate } from '../../cli/process-launcher.js';
import { ExitCleanup } from '../../common/exit-cleanup.js';

const run = promisify(execFile);

/** One simulated machine: a network namespace with one interface on the test bridge. */
export interface Host {
  readonly index: number;
  /** The namespace's name (`ip netns`). */
  readonly name: string;
  /** Its IPv4 address on the bridge, reachable from the root namespace and from every other host. */
  readonly address: string;
  /** Prefix a command with this to run it on the host (TestCluster placement, launch()). */
  readonly wrapper: string[];
}

/**
 * N hosts for multi-host tests: network namespaces `dfs<pid>h<i>`, each
 * with a veth pair into the bridge `dfs<pid>br` in the root namespace, on a
 * private /24 chosen from the pid (bridge .1, host i .(10+i)). The test
 * process and its clients stay in the root namespace and reach every host
 * through the bridge. Partitions are iptables rules inside a host's own
 * namespace, so they vanish with it.
 */
export class Hosts {
  private readonly partitioned = new Set<number>();
  private destroyed = false;

  private constructor(
    readonly hosts: readonly Host[],
    readonly bridge: string,
    readonly bridgeAddress: string,
    private readonly veths: readonly string[],
  ) {}

  /** Builds the hosts; on any failure it removes what it made before rethrowing. */
  static async create(n: number): Promise<Hosts> {
    if (!Number.isInteger(n) || n < 1 || n > 99) throw new Error(`createHosts: ${n} hosts (1 to 99)`);
    removeLeftovers();
    const prefix = pickSubnet();
    const tag = `dfs${process.pid}`;
    const bridge = `${tag}br`;
    const hosts: Host[] = [];
    const veths: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `${tag}h${i}`;
      hosts.push({ index: i, name, address: `${prefix}.${10 + i}`, wrapper: ['ip', 'netns', 'exec', name] });
      veths.push(`${tag}v${i}`);
    }
    const made = new Hosts(hosts, bridge, `${prefix}.1`, veths);
    cleanup.track(made);
    try {
      await ip('link', 'add', bridge, 'type', 'bridge');
      await ip('addr', 'add', `${prefix}.1/24`, 'dev', bridge);
      await ip('link', 'set', bridge, 'up');
      for (const [i, host] of hosts.entries()) {
        const veth = veths[i]!;
        await ip('netns', 'add', host.name);
        // The inner end is created inside the namespace, so its name never meets the root's.
        await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.name);
        await ip('link', 'set', veth, 'master', bridge, 'up');
        await ip('-n', host.name, 'link', 'set', 'lo', 'up');
        await ip('-n', host.name, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
        await ip('-n', host.name, 'link', 'set', 'eth0', 'up');
        await ip('-n', host.name, 'route', 'add', 'default', 'via', `${prefix}.1`);
      }
    } catch (err) {
      await made.destroy();
      throw err;
    }
    return made;
  }

  host(i: number): Host {
    const h = this.hosts[i];
    if (h === undefined) throw new Error(`no host ${i}`);
    return h;
  }

  /** Drops every packet between host `i` and each of `others` (both directions), inside host i. */
  async partition(i: number, others: readonly number[]): Promise<void> {
    const host = this.host(i);
    for (const o of others) {
      if (o === i) continue;
      const peer = this.host(o).address;
      await iptables(host, '-A', 'INPUT', '-s', peer, '-j', 'DROP');
      await iptables(host, '-A', 'OUTPUT', '-d', peer, '-j', 'DROP');
    }
    this.partitioned.add(i);
  }

  /** Removes every partition rule of host `i`. */
  async heal(i: number): Promise<void> {
    const host = this.host(i);
    await iptables(host, '-F', 'INPUT');
    await iptables(host, '-F', 'OUTPUT');
    this.partitioned.delete(i);
  }

  async healAll(): Promise<void> {
    for (const i of [...this.partitioned]) await this.heal(i);
  }

  isPartitioned(i: number): boolean {
    return this.partitioned.has(i);
  }

  /**
   * Proves the wiring before anything depends on it: a listener on host 0
   * is reached from the root namespace and, if there is one, from host 1.
   */
  async checkReachable(timeoutMs = 10_000): Promise<void> {
    const target = this.host(0);
    const listener = spawn(
      target.wrapper[0]!,
      [
        ...target.wrapper.slice(1),
        process.execPath,
        '-e',
        `const s = require('node:net').createServer((c) => c.end('ok')); s.listen(0, ${JSON.stringify(target.address)}, () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listener on ${target.name} within ${timeoutMs} ms`)), timeoutMs);
        let out = '';
        listener.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (!out.includes('\n')) return;
          clearTimeout(timer);
          resolve(Number(out.trim()));
        });
        listener.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the listener on ${target.name} exited (${code})`));
        });
      });
      await expectGreeting(target.address, port, timeoutMs);
      if (this.hosts.length > 1) {
        const from = this.host(1);
        const script = `const c = require('node:net').connect(${port}, ${JSON.stringify(target.address)}); let got = ''; c.on('data', (d) => (got += d)); c.on('end', () => process.exit(got === 'ok' ? 0 : 1)); c.on('error', () => process.exit(2)); setTimeout(() => process.exit(3), ${timeoutMs});`;
        await run(from.wrapper[0]!, [...from.wrapper.slice(1), process.execPath, '-e', script], { timeout: timeoutMs + 2_000 });
      }
    } finally {
      if (listener.pid !== undefined && isAlive(listener.pid)) await terminate(listener.pid, 1_000);
    }
  }

  /** Removes the veths, namespaces and bridge; safe to call twice, and after a partial create(). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    cleanup.untrack(this);
    this.partitioned.clear();
    // Deleting the root end of a veth deletes both ends, even while processes keep the namespace alive.
    for (const veth of this.veths) await ipQuietly('link', 'del', veth);
    for (const host of this.hosts) await ipQuietly('netns', 'del', host.name);
    await ipQuietly('link', 'del', this.bridge);
  }

  /** destroy() for process 'exit', where nothing asynchronous runs. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    cleanup.untrack(this);
    for (const veth of this.veths) ipSync('link', 'del', veth);
    for (const host of this.hosts) ipSync('netns', 'del', host.name);
    ipSync('link', 'del', this.bridge);
  }
}

export function createHosts(n: number): Promise<Hosts> {
  return Hosts.create(n);
}

// A crashed run must not leave namespaces and bridges behind; a signal exits through 'exit', so that TestCluster's safety net runs too.
const cleanup = new ExitCleanup<Hosts>((hosts) => hosts.destroySync());

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

/** For cleanup: what is already gone is fine, and one failure must not stop the rest. */
async function ipQuietly(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    if (!/Cannot find device|No such file|does not exist/i.test(stderr)) {
      console.error(`cleanup: ip ${args.join(' ')}: ${stderr.trim() || (err as Error).message}`);
    }
  }
}

function ipSync(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // Best effort while exiting: what is already gone is gone.
  }
}

async function iptables(host: Host, ...args: string[]): Promise<void> {
  try {
    await run('ip', ['netns', 'exec', host.name, 'iptables', '-w', ...args]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`iptables ${args.join(' ')} on ${host.name} failed: ${stderr || (err as Error).message}`);
  }
}

async function expectGreeting(address: string, port: number, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, address);
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${address}:${port} within ${timeoutMs} ms: is the bridge forwarding?`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => {
      clearTimeout(timer);
      if (got === 'ok') resolve();
      else reject(new Error(`${address}:${port} answered ${JSON.stringify(got)}`));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach ${address}:${port} from the root namespace: ${err.message}`));
    });
  });
}

/**
 * Namespaces and links of our naming whose creating process is gone (a run
 * killed before its cleanup). Processes still running inside such a
 * namespace are not ours to kill; without their veth they are cut off.
 */
function removeLeftovers(): void {
  const stale = (pid: string) => Number(pid) === process.pid || !isAlive(Number(pid));
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const m of links.matchAll(/^\d+:\s+(dfs(\d+)v\d+)[@:]/gm)) if (stale(m[2]!)) ipSync('link', 'del', m[1]!);
  for (const m of namespaces.matchAll(/^(dfs(\d+)h\d+)\b/gm)) if (stale(m[2]!)) ipSync('netns', 'del', m[1]!);
  for (const m of links.matchAll(/^\d+:\s+(dfs(\d+)br)[@:]/gm)) if (stale(m[2]!)) ipSync('link', 'del', m[1]!);
}

/** A /24 in 10.64.0.0/9 derived from the pid, moved on past any prefix this machine already routes. */
function pickSubnet(): string {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const addrs = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const used = `${routes}\n${addrs}`;
  for (let k = 0; k < 1024; k++) {
    const n = (process.pid + k) & 0x7fff;
    const prefix = `10.${64 + (n >>> 8)}.${n & 255}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.64.0.0/9 subnet for the test hosts');
}
