/**
 * Deliberately wrong behaviours that a case run can simulate, used only by
 * the harness's own test to prove that a differing file system is caught and
 * described. Each mimics a real mistake a FUSE file system can make.
 */
export const MUTATIONS = [
  /** Returns EPERM where the file system said EACCES (a wrong errno mapping). */
  'eacces-as-eperm',
  /** Creates with the umask ignored (a file system that applies the mode itself, unmasked). */
  'umask-ignored',
  /** Runs every user's steps as root (a mount without default_permissions that checks nothing). */
  'permissions-unchecked',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

export function isMutation(value: string): value is Mutation {
  return (MUTATIONS as readonly string[]).includes(value);
}
