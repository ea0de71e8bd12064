import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ESCAPE_MARKER } from './hostile-values.js';

/**
 * Looks for anything the storm's path-traversal payloads could have made
 * outside the chunkservers' data: a name carrying the marker the payloads
 * use, under the roots given (bounded depth, unreadable directories skipped:
 * /tmp is shared with other users' files).
 */
export async function findEscapes(roots: string[], maxDepth = 5): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable or gone: other processes share these directories
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.includes(ESCAPE_MARKER)) found.push(path);
      if (e.isDirectory() && !e.isSymbolicLink() && depth < maxDepth) await walk(path, depth + 1);
    }
  };
  for (const root of roots) await walk(root, 0);
  return found;
}

/** Paths and modification times of every entry directly in `dir`: compared before and after the storm. */
export async function entriesOf(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await readdir(dir)) {
    try {
      out.set(name, (await stat(join(dir, name))).mtimeMs);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}
