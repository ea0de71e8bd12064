import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Host, Hosts } from '../harness/netns.js';

const run = promisify(execFile);
const IN = 'NEMESIS-IN';
const OUT = 'NEMESIS-OUT';

/**
 * Network faults as iptables rules inside each host's namespace, in chains
 * of their own (jumped to from INPUT and OUTPUT), so healing a host is one
 * flush and never touches anyone else's rules; the namespaces take them
 * away when they go. Rules match eth0 only: a host's traffic to itself
 * (a fault proxy in front of its own port) is never cut.
 */
export class NetworkFaults {
  private readonly faulty = new Set<number>();

  private constructor(private readonly hosts: Hosts) {}

  static async install(hosts: Hosts): Promise<NetworkFaults> {
    for (const host of hosts.hosts) {
      await iptables(host, '-N', IN);
      await iptables(host, '-N', OUT);
      await iptables(host, '-I', 'INPUT', '-i', 'eth0', '-j', IN);
      await iptables(host, '-I', 'OUTPUT', '-o', 'eth0', '-j', OUT);
    }
    return new NetworkFaults(hosts);
  }

  /** Host `i` drops what it receives from `others` and, unless one-way, what it sends them. */
  async cut(i: number, others: readonly number[], direction: 'both' | 'inbound'): Promise<void> {
    const host = this.hosts.host(i);
    this.faulty.add(i);
    for (const o of others) {
      if (o === i) continue;
      const peer = this.hosts.host(o).address;
      await iptables(host, '-A', IN, '-s', peer, '-j', 'DROP');
      if (direction === 'both') await iptables(host, '-A', OUT, '-d', peer, '-j', 'DROP');
    }
  }

  /** Host `i` drops each packet it receives (from anyone: peers and clients) with this probability. */
  async loss(i: number, probability: number): Promise<void> {
    this.faulty.add(i);
    await iptables(this.hosts.host(i), '-A', IN, '-m', 'statistic', '--mode', 'random', '--probability', probability.toFixed(3), '-j', 'DROP');
  }

  async heal(i: number): Promise<void> {
    const host = this.hosts.host(i);
    await iptables(host, '-F', IN);
    await iptables(host, '-F', OUT);
    this.faulty.delete(i);
  }

  async healAll(): Promise<void> {
    for (const i of [...this.faulty]) await this.heal(i);
  }
}

export async function iptables(host: Host, ...args: string[]): Promise<void> {
  try {
    await run('ip', ['netns', 'exec', host.name, 'iptables', '-w', ...args]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`iptables ${args.join(' ')} on ${host.name} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}
