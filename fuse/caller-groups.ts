import { readFile } from 'node:fs/promises';
import type { Caller } from '../client-lib/types.js';
import type { RequestContext } from './file-system.js';

const TTL_MS = 1_000;
const CACHE_MAX = 4_096;

/**
 * The caller of a request with its supplementary groups. The kernel's
 * request header names only uid, gid and pid, but the master's permission
 * checks must count every group the caller is in (as the kernel's own
 * default_permissions does), so they are read from /proc/PID/status and
 * kept briefly per pid. A caller that has gone (or a pid in another pid
 * namespace) gets no supplementary groups: stricter, never looser.
 */
export class CallerGroups {
  private readonly cache = new Map<number, { groups: readonly number[]; atMs: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  async callerOf(ctx: RequestContext): Promise<Caller> {
    return { uid: ctx.uid, gid: ctx.gid, groups: await this.groupsOf(ctx.pid) };
  }

  private async groupsOf(pid: number): Promise<readonly number[]> {
    if (pid <= 0) return [];
    const cached = this.cache.get(pid);
    const now = this.now();
    if (cached !== undefined && now - cached.atMs < TTL_MS) return cached.groups;
    let groups: readonly number[] = [];
    try {
      groups = parseGroups(await readFile(`/proc/${pid}/status`, 'latin1'));
    } catch {
      // The process exited already: its request still deserves an answer.
    }
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(pid, { groups, atMs: now });
    return groups;
  }
}

export function parseGroups(status: string): number[] {
  const line = status.split('\n').find((l) => l.startsWith('Groups:'));
  if (line === undefined) return [];
  return line
    .slice('Groups:'.length)
    .trim()
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0);
}
