/** Helpers shared by the case modules. */
import type { Category, PosixCase, Step } from '../case-types.js';
import type { GroupRole, Who } from '../identities.js';
import { R } from '../steps.js';

/** `cases('open')('enoent', summary, steps)` -> the case `open/enoent`. */
export function cases(category: Category) {
  return (what: string, summary: string, steps: Step[]): PosixCase => ({ name: `${category}/${what}`, category, summary, steps });
}

const PRIMARY_GROUP: Readonly<Record<Who, GroupRole>> = {
  root: 'root',
  'user-a': 'group-a',
  'user-b': 'group-b',
  nobody: 'nogroup',
};

/** Root gives a path to a user (and the user's primary group), optionally with a mode. */
export function giveTo(path: string, who: Who, mode?: number): Step[] {
  const steps = [R.chown(path, who, PRIMARY_GROUP[who])];
  if (mode !== undefined) steps.push(R.chmod(path, mode));
  return steps;
}

/** A world-writable sticky directory like /tmp: the case directory, owned by `owner`. */
export function stickyCaseDir(owner: Who = 'root'): Step[] {
  return giveTo('.', owner, 0o1777);
}

/** One byte longer than NAME_MAX (255). */
export const NAME_TOO_LONG = 'n'.repeat(256);
/** Exactly NAME_MAX: must be accepted. */
export const NAME_MAX_LONG = 'm'.repeat(255);
