import type { Hosts } from '../../harness/netns.js';
import type { TestCluster } from '../../harness/test-cluster.js';
import type { Prng } from '../../sim/prng.js';
import type { ClusterProbe } from '../cluster-probe.js';
import type { NetworkFaults } from '../network.js';
import type { DelayProxies } from './delay-proxies.js';
import type { SmallDisk } from '../../harness/small-disk.js';

/** What a fault may reach: the cluster's processes, hosts, network, disks, and where the workload's file lives. */
export interface FaultContext {
  readonly cluster: TestCluster;
  readonly hosts: Hosts;
  readonly net: NetworkFaults;
  readonly proxies: DelayProxies;
  readonly smallDisk: SmallDisk;
  readonly probe: ClusterProbe;
  readonly masters: readonly string[];
  readonly chunkservers: readonly string[];
  /** The host (index into hosts) a process runs on. */
  hostOf(name: string): number;
  /** The appenders' file, whose tail chunk's primary the lease faults aim at. */
  readonly logInode: number;
  /** Chunk handles already damaged once: a chunk's other replicas are never touched, so one good copy always remains. */
  readonly corruptedHandles: Set<number>;
  /** Pids under SIGSTOP, for cleanup to wake. */
  readonly paused: Set<number>;
}

/** A fault in place; heal() undoes it (restarts, reconnects, wakes, frees). */
export interface ActiveFault {
  readonly description: string;
  heal(): Promise<void>;
}

/** Puts one fault in place, choosing its targets with `rng`; undefined when there is nothing to aim it at (no data yet). */
export type Injector = (ctx: FaultContext, rng: Prng) => Promise<ActiveFault | undefined>;

export const noHeal = async (): Promise<void> => {};
