/** Every POSIX case, by category, and selection by name or category. */
import { assert } from '../../../common/assert.js';
import { CATEGORIES, type PosixCase } from '../case-types.js';
import { CHMOD_CASES } from './chmod.js';
import { CHOWN_CASES } from './chown.js';
import { CREATE_CASES } from './create.js';
import { MKDIR_CASES, RMDIR_CASES } from './dirs.js';
import { LINK_CASES, SYMLINK_CASES } from './links.js';
import { OPEN_CASES } from './open.js';
import { RENAME_CASES } from './rename.js';
import { TRUNCATE_CASES } from './truncate.js';
import { UNLINK_CASES } from './unlink.js';
import { UTIMENS_CASES } from './utimens.js';

export const ALL_CASES: readonly PosixCase[] = [
  ...OPEN_CASES,
  ...CREATE_CASES,
  ...MKDIR_CASES,
  ...RMDIR_CASES,
  ...UNLINK_CASES,
  ...RENAME_CASES,
  ...LINK_CASES,
  ...SYMLINK_CASES,
  ...CHMOD_CASES,
  ...CHOWN_CASES,
  ...TRUNCATE_CASES,
  ...UTIMENS_CASES,
];

const BY_NAME = new Map<string, PosixCase>();
for (const c of ALL_CASES) {
  assert(!BY_NAME.has(c.name), `duplicate POSIX case ${c.name}`);
  BY_NAME.set(c.name, c);
}

/**
 * The cases named, in the order of ALL_CASES; a bare category ("rename")
 * selects all of its cases. No names: every case. An unknown name throws.
 */
export function selectCases(names?: readonly string[]): PosixCase[] {
  if (names === undefined) return [...ALL_CASES];
  const wanted = new Set<PosixCase>();
  for (const name of names) {
    if ((CATEGORIES as readonly string[]).includes(name)) {
      for (const c of ALL_CASES) if (c.category === name) wanted.add(c);
      continue;
    }
    const c = BY_NAME.get(name);
    if (c === undefined) throw new Error(`unknown POSIX case or category: ${name}`);
    wanted.add(c);
  }
  return ALL_CASES.filter((c) => wanted.has(c));
}
