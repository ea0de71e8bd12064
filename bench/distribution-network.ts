import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isAlive } from '../cli/process-launcher.js';
import { ExitCleanup } from '../common/exit-cleanup.js';

const run = promisify(execFile);

/**
 * The peers' script that builds the shaped network (the BitTorrent baseline builds its own with
 * ../shared/peers' copy of it): ours is a copy in bench/peers, so that the benchmark runs where
 * ../shared does not exist (CI).
 */
export const NETNS_CLUSTER = fileURLToPath(new URL('../../bench/peers/netns-cluster.sh', import.meta.url));

/** Where netns-cluster.sh keeps the state of the network a prefix names (its default SWARM_STATE). */
const stateFile = (prefix: string) => `/run/netns-cluster-${prefix}.state`;

/** Our namespace prefixes: `dd<pid>` then a letter per network, so that runs in parallel and other people's networks never meet. */
const PREFIX_PATTERN = /^netns-cluster-(dd(\d+)[a-z])\.state$/;

export interface ShapedHost {
  readonly index: number;
  readonly namespace: string;
  readonly address: string;
  /** Prefix a command with this to run it on the host. */
  readonly wrapper: string[];
}

/** Bytes through one host's link so far, as the host sees them (its eth0). */
export interface LinkBytes {
  tx: number;
  rx: number;
}

/**
 * N hosts h0..h(N-1) in network namespaces on one bridge, every link shaped
 * with htb to the same rate both ways: ../shared/peers/netns-cluster.sh, so
 * that the BitTorrent baseline runs on a network built the same way. The
 * namespaces are named from this process's pid (`dd<pid><letter><i>`, the
 * bridge in `dd<pid><letter>-sw`): nobody else's are touched, and a run
 * killed before its cleanup is recognised by its dead pid and removed by
 * the next one. Nothing is created in the root namespace.
 */
export class ShapedNetwork {
  private destroyed = false;
  private made: ShapedHost[] = [];

  private constructor(readonly prefix: string) {}

  get hosts(): readonly ShapedHost[] {
    return this.made;
  }

  /** The namespace prefix for network `letter` of this process (the BitTorrent baseline gets its own). */
  static prefixFor(letter: string): string {
    return `dd${process.pid}${letter}`;
  }

  static async up(hostCount: number, rate: string, letter = 'h'): Promise<ShapedNetwork> {
    removeLeftovers();
    const prefix = ShapedNetwork.prefixFor(letter);
    const network = new ShapedNetwork(prefix);
    // Tracked before it exists, so that a failure or a signal halfway through still removes what was made.
    cleanup.track(network);
    try {
      await cluster(prefix, 'up', String(hostCount), rate);
      for (let index = 0; index < hostCount; index++) {
        const namespace = `${prefix}${index}`;
        const address = (await cluster(prefix, 'ip', String(index))).trim();
        network.made.push({ index, namespace, address, wrapper: ['ip', 'netns', 'exec', namespace] });
      }
    } catch (err) {
      await network.down();
      throw err;
    }
    return network;
  }

  host(i: number): ShapedHost {
    const h = this.hosts[i];
    if (h === undefined) throw new Error(`no host ${i}`);
    return h;
  }

  /**
   * Every host's link counters at once, read on the bridge side (host i's
   * port vh<i>: what it transmits is what host i receives). Ethernet
   * headers included, as the shaper counts them.
   */
  async linkBytes(): Promise<LinkBytes[]> {
    const { stdout } = await run('ip', ['-n', `${this.prefix}-sw`, '-s', '-j', 'link', 'show'], { maxBuffer: 1 << 24 });
    const links = JSON.parse(stdout) as { ifname: string; stats64?: { rx: { bytes: number }; tx: { bytes: number } } }[];
    return this.hosts.map((h) => {
      const port = links.find((l) => l.ifname === `vh${h.index}`);
      if (port?.stats64 === undefined) throw new Error(`no counters for the bridge port of host ${h.index}`);
      return { tx: port.stats64.rx.bytes, rx: port.stats64.tx.bytes };
    });
  }

  /** Ends whatever still runs in the namespaces (by PID, in netns-cluster.sh) and removes them; safe to call twice. */
  async down(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    cleanup.untrack(this);
    await cluster(this.prefix, 'down').catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  }

  downSync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    cleanup.untrack(this);
    clusterSync(this.prefix);
  }
}

/** Runs netns-cluster.sh for our prefix; its state file is the default one for that prefix, so `down` finds it. */
async function cluster(prefix: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [NETNS_CLUSTER, ...args], { env: { ...process.env, SWARM_PREFIX: prefix, SWARM_STATE: stateFile(prefix) } });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`netns-cluster.sh ${args.join(' ')} (prefix ${prefix}) failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

function clusterSync(prefix: string): void {
  try {
    execFileSync('bash', [NETNS_CLUSTER, 'down'], { stdio: 'ignore', env: { ...process.env, SWARM_PREFIX: prefix, SWARM_STATE: stateFile(prefix) } });
  } catch {
    // Best effort while exiting: the next run removes what is left (its pid is dead by then).
  }
}

/** Removes the network of a prefix we own (e.g. the BitTorrent baseline's, if its script was killed before its own cleanup). */
export function removeNetwork(prefix: string): void {
  if (existsSync(stateFile(prefix))) clusterSync(prefix);
}

/** Networks of our naming whose process is gone: a run killed before its cleanup. */
function removeLeftovers(): void {
  for (const name of readdirSync('/run')) {
    const m = PREFIX_PATTERN.exec(name);
    if (m !== null && !isAlive(Number(m[2]))) clusterSync(m[1]!);
  }
}

// A crashed or interrupted run must not leave namespaces, and the servers in them, behind.
const cleanup = new ExitCleanup<ShapedNetwork>((network) => network.downSync());
