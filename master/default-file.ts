import { joinPath } from '../common/path.js';
import { LIMITS } from '../common/limits.js';
import type { AttrView } from './attr.js';
import type { MasterStateMachine } from './state-machine.js';

export interface DefaultFile {
  path: string;
  attr: AttrView;
  /** The largest file with replication "all" if any holds data, else the largest file. */
  chosen: 'largest-replicate-all' | 'largest';
  /** Whether every entry of the namespace was looked at, or only the first `entriesMax`. */
  complete: boolean;
}

/**
 * The file the dashboard's chunk map shows when none is asked for: the one
 * an operator most likely wants to watch (the file being distributed to the
 * fleet, else the biggest). Walks the namespace breadth first, in name
 * order, looking at no more than `entriesMax` entries; files without chunks
 * do not count. Ties go to the first found.
 */
export function findDefaultFile(files: Pick<MasterStateMachine, 'list'>, entriesMax: number): DefaultFile | undefined {
  let best: { path: string; attr: AttrView } | undefined;
  let bestAll: { path: string; attr: AttrView } | undefined;
  let budget = entriesMax;
  const queue: string[][] = [[]];
  let complete = true;
  walk: for (let next = 0; next < queue.length; next++) {
    const dir = queue[next]!;
    const dirPath = joinPath(dir);
    let startAfter = '';
    for (;;) {
      if (budget === 0) {
        complete = false;
        break walk;
      }
      const page = files.list(dirPath, startAfter, Math.min(budget, LIMITS.listPageMax));
      for (const { name, attr } of page.entries) {
        budget--;
        if (attr.kind === 'directory') queue.push([...dir, name]);
        if (attr.kind !== 'file' || attr.chunkCount === 0) continue;
        if (best === undefined || attr.size > best.attr.size) best = { path: joinPath([...dir, name]), attr };
        if (attr.replicateAll && (bestAll === undefined || attr.size > bestAll.attr.size)) bestAll = { path: joinPath([...dir, name]), attr };
      }
      if (!page.hasMore || page.entries.length === 0) break;
      startAfter = page.entries[page.entries.length - 1]!.name;
    }
  }
  if (bestAll !== undefined) return { ...bestAll, chosen: 'largest-replicate-all', complete };
  if (best !== undefined) return { ...best, chosen: 'largest', complete };
  return undefined;
}
