import { readFileSync } from 'node:fs';

/** Resident memory of a process now (VmRSS of /proc/PID/status), in bytes; undefined once it has exited. */
export function residentBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  // A zombie has no VmRSS line: it holds no memory any more.
  return match === null ? undefined : Number(match[1]) * 1024;
}

/**
 * The peak resident memory of groups of processes (the chunkservers, the
 * mount), sampled every `intervalMs`: the kernel's VmHWM would be simpler
 * but covers the whole life of a process, start-up included, and cannot be
 * reset without privileges that the peer's daemons do not share. A group's
 * peak is that of its largest member (each process is one server, and the
 * targets are per server).
 */
export class RssSampler<Group extends string> {
  private readonly peakBytes = new Map<Group, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly groups: Readonly<Record<Group, readonly number[]>>,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    if (this.timer !== undefined) throw new Error('the sampler is already running');
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Stops sampling (after one last sample) and returns each group's peak in bytes; 0 for a group with no live process. */
  stop(): Record<Group, number> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const peaks = {} as Record<Group, number>;
    for (const group of Object.keys(this.groups) as Group[]) peaks[group] = this.peakBytes.get(group) ?? 0;
    return peaks;
  }

  private sample(): void {
    for (const group of Object.keys(this.groups) as Group[]) {
      for (const pid of this.groups[group]) {
        const bytes = residentBytes(pid);
        if (bytes !== undefined && bytes > (this.peakBytes.get(group) ?? 0)) this.peakBytes.set(group, bytes);
      }
    }
  }
}
