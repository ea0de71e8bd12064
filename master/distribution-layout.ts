import { assert } from '../common/assert.js';

export interface LayoutInput {
  /** The members that lack the chunk, in locality order (racks contiguous, zones contiguous). */
  slots: readonly number[];
  /** Whether a slot is of the chunk's stripe: those are the interior nodes, as far as they suffice. */
  inStripe: (slot: number) => boolean;
  fanout: number;
  random: () => number;
  rackOf: readonly number[];
  zoneOf: readonly number[];
}

/**
 * Shapes one chunk's tree over the members that lack it (SplitStream-like).
 * Returns, per position in `slots`, the position of its parent, or -1 for
 * the root (which the planner hangs off a holder).
 *
 * Interior nodes are the chunk's stripe: with the stripes dealt evenly, a
 * member is interior in about 1/fanout of the trees and its uplink carries
 * about one file's worth in all. A k-ary tree over W nodes needs
 * ceil((W - 1) / k) interior nodes; when the stripe is short of that, members
 * of other stripes are promoted, evenly spread from a random offset so that
 * the extra load does not fall on the same few. The interior nodes form a
 * complete k-ary tree laid out in preorder over the locality order, so every
 * subtree is a contiguous run of it (deep edges, which are most of them, stay
 * within a rack); leaves then take the free places of interior nodes in their
 * own rack, else their zone, else anywhere. Depth: ceil(log_k(W / k)) + 1.
 */
export function layoutTree(input: LayoutInput): Int32Array {
  const { slots, fanout } = input;
  assert(Number.isInteger(fanout) && fanout >= 1, `fanout must be a positive integer, got ${fanout}`);
  const total = slots.length;
  const parentOf = new Int32Array(total).fill(-1);
  if (total === 0) return parentOf;
  const interior = new Uint8Array(total);
  let stripeCount = 0;
  for (let i = 0; i < total; i++) {
    if (input.inStripe(slots[i]!)) {
      interior[i] = 1;
      stripeCount++;
    }
  }
  const needed = Math.max(1, Math.ceil((total - 1) / fanout));
  if (stripeCount < needed) promote(interior, needed - stripeCount, total - stripeCount, input.random);

  const inner: number[] = [];
  for (let i = 0; i < total; i++) if (interior[i] === 1) inner.push(i);
  const free = new Int32Array(total);
  // Preorder: [lo, hi) of `inner` is one subtree, rooted at its first element.
  const stack: [number, number, number][] = [[0, inner.length, -1]];
  while (stack.length > 0) {
    const [lo, hi, parent] = stack.pop()!;
    const node = inner[lo]!;
    parentOf[node] = parent;
    const rest = hi - lo - 1;
    const parts = Math.min(fanout, rest);
    free[node] = fanout - parts;
    let start = lo + 1;
    for (let p = 0; p < parts; p++) {
      const size = Math.floor(rest / parts) + (p < rest % parts ? 1 : 0);
      stack.push([start, start + size, node]);
      start += size;
    }
  }

  const byRack = new Map<number, number[]>();
  const byZone = new Map<number, number[]>();
  const anywhere: number[] = [];
  for (const i of inner) {
    if (free[i] === 0) continue;
    const slot = slots[i]!;
    bucket(byRack, input.rackOf[slot]!).push(i);
    bucket(byZone, input.zoneOf[slot]!).push(i);
    anywhere.push(i);
  }
  for (let i = 0; i < total; i++) {
    if (interior[i] === 1) continue;
    const slot = slots[i]!;
    const parent = take(byRack.get(input.rackOf[slot]!), free) ?? take(byZone.get(input.zoneOf[slot]!), free) ?? take(anywhere, free);
    assert(parent !== undefined, 'interior nodes have a free place for every leaf');
    parentOf[i] = parent;
    free[parent]!--;
  }
  return parentOf;
}

/** Marks `count` of the `candidates` non-interior positions interior, evenly spaced from a random offset. */
function promote(interior: Uint8Array, count: number, candidates: number, random: () => number): void {
  const step = candidates / count;
  const offset = random() * step;
  let seen = 0;
  let promoted = 0;
  for (let i = 0; i < interior.length && promoted < count; i++) {
    if (interior[i] === 1) continue;
    if (seen === Math.floor(offset + promoted * step)) {
      interior[i] = 1;
      promoted++;
    }
    seen++;
  }
  assert(promoted === count, `promoted ${promoted} of ${count} interior nodes`);
}

function bucket(map: Map<number, number[]>, key: number): number[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}

/** The last entry of `list` with a free place, dropping exhausted ones (each is dropped once: O(1) amortized). */
function take(list: number[] | undefined, free: Int32Array): number | undefined {
  if (list === undefined) return undefined;
  while (list.length > 0 && free[list[list.length - 1]!] === 0) list.pop();
  return list.length > 0 ? list[list.length - 1] : undefined;
}
