import { assert } from '../../common/assert.js';

/**
 * The vocabulary of the Raft core. Terms and indices are plain numbers so that
 * arithmetic stays readable; every value that enters from outside is checked to
 * be a safe non-negative integer (2^53 entries is beyond any log we will keep).
 */
declare const nodeIdBrand: unique symbol;

/** A member's stable identity. Never empty: "no node" is `null`. */
export type NodeId = string & { readonly [nodeIdBrand]: 'NodeId' };
export type Term = number;
export type Index = number;

export function nodeId(value: string): NodeId {
  assert(typeof value === 'string' && value.length > 0, 'a node id is a non-empty string');
  return value as NodeId;
}

export function assertTerm(value: number, what = 'term'): Term {
  assert(Number.isSafeInteger(value) && value >= 0, `${what} is not a safe non-negative integer: ${value}`);
  return value;
}

export function assertIndex(value: number, what = 'index'): Index {
  assert(Number.isSafeInteger(value) && value >= 0, `${what} is not a safe non-negative integer: ${value}`);
  return value;
}

export const ENTRY_TYPES = ['normal', 'confChange'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must survive a crash before a vote or append response leaves. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: Index;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

export const ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const;
export type Role = (typeof ROLES)[number];

/** Volatile state the application may want to observe; never persisted. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** The membership in force: voters decide, learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: [], learners: [] });

export interface SnapshotMetadata {
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

/** The state machine as of `metadata.index`, plus the membership at that index. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE }),
  data: new Uint8Array(0),
});

/** A linearizable read may be served once the local applied index reaches `index`. */
export interface ReadState {
  readonly index: Index;
  readonly context: string;
}

/**
 * Bytes an entry costs in a message, for the size limits. The fixed part
 * stands for term, index and framing so that empty entries are not free.
 */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

export function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const e of entries) total += entryBytes(e);
  return total;
}

export function hardStateEquals(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Keeps a prefix of `entries` whose size is within `maxBytes`, but never fewer
 * than one entry: a single entry larger than the limit must still make progress.
 */
export function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entryBytes(entries[0]!);
  let n = 1;
  while (n < entries.length) {
    size += entryBytes(entries[n]!);
    if (size > maxBytes) break;
    n++;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}
