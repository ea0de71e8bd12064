import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../cli/cluster-commands.js';
import type { ClusterFile } from '../cli/cluster-file.js';
import { launch, terminate } from '../cli/process-launcher.js';
import { run } from './mount-workloads.js';

export interface MountedClusterOptions {
  masters: number;
  chunkservers: number;
  chunkSizeBytes: number;
  /** Extra node arguments for every server and the mount (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Plaintext with no authentication (`--insecure`) instead of the cluster's own mutual TLS. */
  insecure?: boolean;
}

/** A local cluster with our mount on it, in a fresh temporary directory. */
export interface MountedCluster {
  dir: string;
  cluster: ClusterFile;
  mountPoint: string;
  mountPid: number;
  /** Unmounts, stops every process and removes the directory; safe after a failed start. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster (masters and chunkservers at warn level, no scrubbing,
 * so that only the workload runs) and mounts it. Whatever was started is
 * stopped again if a later step fails.
 */
export async function startMountedCluster(options: MountedClusterOptions): Promise<MountedCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-bench-mount-'));
  const mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint);
  let cluster: ClusterFile | undefined;
  let mountPid: number | undefined;
  const stop = async (): Promise<void> => {
    if (mountPid !== undefined) await terminate(mountPid, 10_000);
    if (cluster !== undefined) await Promise.all(cluster.processes.map((p) => terminate(p.pid, 5_000)));
    // A mount whose process was killed stays in the table until it is lazily unmounted; none left is the usual case.
    await run('umount', ['-l', mountPoint]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    cluster = await startCluster({
      dir,
      masters: options.masters,
      chunkservers: options.chunkservers,
      chunkSizeBytes: options.chunkSizeBytes,
      detach: false,
      masterArgs: ['--log-level', 'warn'],
      chunkserverArgs: ['--log-level', 'warn', '--scrub-interval-ms', '0'],
      ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
      ...(options.insecure ? { insecure: true } : {}),
    });
    const mount = await launch({
      role: 'mount',
      args: [mountPoint, '--masters', cluster.masters.join(','), '--dir', dir, '--log-level', 'warn', ...(options.insecure ? ['--insecure'] : [])],
      readyFile: join(dir, 'mount.ready'),
      logFile: join(dir, 'mount.log'),
      detached: false,
      ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    });
    mountPid = mount.pid;
    return { dir, cluster, mountPoint, mountPid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
