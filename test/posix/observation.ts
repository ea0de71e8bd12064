/**
 * Normalization of what a worker saw into what two file systems must agree
 * on. Left out on purpose: inode numbers, st_dev, st_blocks, directory sizes
 * (ext4 says 4096, tmpfs counts entries, a FUSE file system picks its own),
 * absolute times, and atime (it depends on mount options) unless the step
 * set it. Ids become role names; times become relations to the previous
 * observation of the same path.
 */
import { groupRole, userRole } from './identities.js';
import type { FileType, MissingObservation, RawObservation, RawStat } from './protocol.js';

/** A time compared with the same path's previous observation. */
export type TimeRelation = 'first' | 'changed' | 'unchanged';

/** The attributes a stat() reports, without times. */
export interface StaticView {
  type: FileType;
  /** Octal, four digits: "0644", "2755", "1777". */
  mode: string;
  nlink: number;
  /** Absent for directories. */
  size?: number;
  owner: string;
  group: string;
}

export interface Observation extends StaticView {
  content?: string;
  target?: string;
  entries?: string[];
  mtime: TimeRelation | string;
  ctime: TimeRelation;
  ctimeVsMtime: 'ctime >= mtime' | 'ctime < mtime';
  /** Only when the step set the times: a relation for "now", the exact value for explicit times. */
  atime?: TimeRelation | string;
}

export type PathObservation = Observation | MissingObservation;

export interface PreviousTimes {
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** How a step touched a path's times, which decides how atime and mtime are reported. */
export type TimesSet = 'none' | 'now' | 'explicit';

export function staticView(raw: RawStat): StaticView {
  const view: StaticView = {
    type: raw.type,
    mode: raw.mode.toString(8).padStart(4, '0'),
    nlink: raw.nlink,
    owner: userRole(raw.uid),
    group: groupRole(raw.gid),
  };
  if (raw.type !== 'dir') view.size = raw.size;
  return view;
}

/** "1000000000.250000000": seconds and nanoseconds, exact. */
export function formatNs(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${sec}.${frac.toString().padStart(9, '0')}`;
}

function relation(now: bigint, before: bigint | undefined): TimeRelation {
  if (before === undefined) return 'first';
  return now === before ? 'unchanged' : 'changed';
}

export function normalize(raw: RawObservation | MissingObservation, previous: PreviousTimes | undefined, timesSet: TimesSet): PathObservation {
  if ('error' in raw) return raw;
  const atimeNs = BigInt(raw.atimeNs);
  const mtimeNs = BigInt(raw.mtimeNs);
  const ctimeNs = BigInt(raw.ctimeNs);
  const observation: Observation = {
    ...staticView(raw),
    mtime: timesSet === 'explicit' ? formatNs(mtimeNs) : relation(mtimeNs, previous?.mtimeNs),
    ctime: relation(ctimeNs, previous?.ctimeNs),
    ctimeVsMtime: ctimeNs >= mtimeNs ? 'ctime >= mtime' : 'ctime < mtime',
  };
  if (timesSet === 'explicit') observation.atime = formatNs(atimeNs);
  if (timesSet === 'now') observation.atime = relation(atimeNs, previous?.atimeNs);
  if (raw.content !== undefined) observation.content = raw.content;
  if (raw.target !== undefined) observation.target = raw.target;
  if (raw.entries !== undefined) observation.entries = raw.entries;
  return observation;
}

export function timesOf(raw: RawObservation | MissingObservation): PreviousTimes | undefined {
  if ('error' in raw) return undefined;
  return { atimeNs: BigInt(raw.atimeNs), mtimeNs: BigInt(raw.mtimeNs), ctimeNs: BigInt(raw.ctimeNs) };
}
