import type { ServerId } from '../common/ids.js';

export interface PlacementCandidate {
  id: ServerId;
  zone: string;
  rack: string;
  capacityBytes: number;
  usedBytes: number;
  /** Transfers in flight (reads, writes, copies). */
  activity: number;
}

/**
 * Chooses `count` servers for new replicas, never one that is excluded (it
 * already holds the chunk) and never the same one twice. In order of
 * precedence: a zone none of `existing` or the already chosen use; then a new
 * rack; then the emptiest and least busy. Ties are broken by `random`, so new
 * chunks spread instead of piling on one node. A server whose used bytes
 * would pass `highWaterMark` of its capacity with `minFreeBytes` more is
 * never chosen. Pure.
 */
export function choosePlacement(
  candidates: readonly PlacementCandidate[],
  count: number,
  options: {
    existing: readonly PlacementCandidate[];
    exclude: ReadonlySet<ServerId>;
    minFreeBytes: number;
    /** Fraction of capacity (0..1] no server is filled above. */
    highWaterMark: number;
    random: () => number;
  },
): PlacementCandidate[] {
  const zones = new Set(options.existing.map((c) => c.zone));
  const racks = new Set(options.existing.map((c) => rackKey(c)));
  const pool = candidates.filter(
    (c) => !options.exclude.has(c.id) && fitsBelow(c, options.minFreeBytes, options.highWaterMark),
  );
  const tieBreak = new Map(pool.map((c) => [c.id, options.random()]));
  const chosen: PlacementCandidate[] = [];
  while (chosen.length < count && pool.length > 0) {
    let bestIndex = 0;
    for (let i = 1; i < pool.length; i++) {
      if (better(pool[i]!, pool[bestIndex]!, zones, racks, tieBreak)) bestIndex = i;
    }
    const [best] = pool.splice(bestIndex, 1);
    chosen.push(best!);
    zones.add(best!.zone);
    racks.add(rackKey(best!));
  }
  return chosen;
}

/**
 * Chooses where to copy from: the source in the target's rack, then zone, then
 * the least busy. Pure.
 */
export function chooseSource(
  sources: readonly PlacementCandidate[],
  target: PlacementCandidate,
  random: () => number,
): PlacementCandidate | undefined {
  let best: PlacementCandidate | undefined;
  let bestScore = Infinity;
  for (const s of sources) {
    const distance = rackKey(s) === rackKey(target) ? 0 : s.zone === target.zone ? 1 : 2;
    const score = distance * 1_000 + s.activity + random() * 0.5;
    if (score < bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

function better(
  a: PlacementCandidate,
  b: PlacementCandidate,
  zones: ReadonlySet<string>,
  racks: ReadonlySet<string>,
  tieBreak: ReadonlyMap<ServerId, number>,
): boolean {
  const aZone = zones.has(a.zone) ? 0 : 1;
  const bZone = zones.has(b.zone) ? 0 : 1;
  if (aZone !== bZone) return aZone > bZone;
  const aRack = racks.has(rackKey(a)) ? 0 : 1;
  const bRack = racks.has(rackKey(b)) ? 0 : 1;
  if (aRack !== bRack) return aRack > bRack;
  const aCost = cost(a);
  const bCost = cost(b);
  // Within two percentage points of fullness, load and chance decide.
  if (Math.abs(aCost - bCost) > 0.02) return aCost < bCost;
  return tieBreak.get(a.id)! < tieBreak.get(b.id)!;
}

/** Whether `bytes` more keep the server at or below `highWaterMark` of its capacity. */
export function fitsBelow(c: Pick<PlacementCandidate, 'capacityBytes' | 'usedBytes'>, bytes: number, highWaterMark: number): boolean {
  return c.capacityBytes > 0 && c.usedBytes + bytes <= c.capacityBytes * highWaterMark;
}

/** Used fraction of capacity; a server that reports no capacity counts as full. */
export function utilization(c: Pick<PlacementCandidate, 'capacityBytes' | 'usedBytes'>): number {
  return c.capacityBytes > 0 ? c.usedBytes / c.capacityBytes : 1;
}

/** Fullness with a little weight for load: what placement and surplus trimming compare. */
export function cost(c: PlacementCandidate): number {
  return utilization(c) + c.activity * 0.005;
}

export function rackKey(c: Pick<PlacementCandidate, 'zone' | 'rack'>): string {
  return `${c.zone}\u0000${c.rack}`;
}
