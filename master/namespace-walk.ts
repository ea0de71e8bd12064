import { isDfsError } from '../common/errors.js';
import { LIMITS } from '../common/limits.js';
import { joinPath, splitPath } from '../common/path.js';
import type { AttrView } from './attr.js';
import type { MasterStateMachine } from './state-machine.js';

export interface WalkItem {
  path: string;
  attr: AttrView;
}

/**
 * Every inode under `root` (root included), depth first, names in byte
 * order, each directory after its contents (post-order), so that "resume
 * after path P" means exactly "skip P and everything before it": P's whole
 * subtree is behind it. `after` is such a P ('' to start), under `root`.
 * A walk that the namespace changes under sees each entry as it is when
 * reached. Unchecked (an operator's walk): no caller.
 */
export function* walkNamespace(state: MasterStateMachine, root: string, after: string): Generator<WalkItem> {
  const rootParts = splitPath(root);
  const attr = state.stat(root);
  const resume = after === '' ? [] : splitPath(after).slice(rootParts.length);
  if (attr.kind !== 'directory') {
    if (resume.length === 0 && after !== root) yield { path: root, attr };
    return;
  }
  if (after === root) return;
  yield* walkDirectory(state, rootParts, resume);
  yield { path: root, attr: state.stat(root) };
}

function* walkDirectory(state: MasterStateMachine, dir: string[], resume: readonly string[]): Generator<WalkItem> {
  let startAfter = '';
  if (resume.length > 0) {
    const [first, ...rest] = resume;
    startAfter = first!;
    if (rest.length > 0) {
      const child = [...dir, first!];
      const attr = statOrUndefined(state, joinPath(child));
      if (attr?.kind === 'directory') {
        yield* walkDirectory(state, child, rest);
        yield { path: joinPath(child), attr };
      }
    }
  }
  for (;;) {
    const page = listOrEmpty(state, joinPath(dir), startAfter);
    for (const entry of page.entries) {
      const child = [...dir, entry.name];
      if (entry.attr.kind === 'directory') yield* walkDirectory(state, child, []);
      yield { path: joinPath(child), attr: entry.attr };
      startAfter = entry.name;
    }
    if (!page.hasMore) return;
  }
}

/** A directory removed while the walk was inside it holds nothing more. */
function listOrEmpty(state: MasterStateMachine, path: string, startAfter: string) {
  try {
    return state.list(path, startAfter, LIMITS.listPageMax);
  } catch (err) {
    if (isDfsError(err, 'NOT_FOUND') || isDfsError(err, 'NOT_A_DIRECTORY')) return { entries: [], hasMore: false };
    throw err;
  }
}

function statOrUndefined(state: MasterStateMachine, path: string): AttrView | undefined {
  try {
    return state.stat(path);
  } catch (err) {
    if (isDfsError(err, 'NOT_FOUND') || isDfsError(err, 'NOT_A_DIRECTORY')) return undefined;
    throw err;
  }
}
