import { Prng } from '../sim/prng.js';

export const FAULT_KINDS = [
  'kill-leader',
  'kill-chunkserver',
  'kill-primary',
  'partition-leader',
  'partition-halves',
  'partition-one-way',
  'packet-loss',
  'delay',
  'disk-full',
  'bitflip',
  'truncate',
  'pause-primary',
  'pause-leader',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault of the plan: what, for how long, the quiet time after it, and its own seed for choosing targets. */
export interface PlannedFault {
  readonly kind: FaultKind;
  readonly holdMs: number;
  readonly gapMs: number;
  readonly seed: number;
}

/**
 * How long each kind stays in place ([min, max] ms). Pauses of a primary
 * outlast the 3 s lease the suite's masters grant, so the process wakes
 * holding a lease that ended; corruptions are instantaneous.
 */
const HOLD_MS: Record<FaultKind, readonly [number, number]> = {
  'kill-leader': [1_000, 5_000],
  'kill-chunkserver': [1_000, 8_000],
  'kill-primary': [1_000, 6_000],
  'partition-leader': [2_000, 8_000],
  'partition-halves': [2_000, 8_000],
  'partition-one-way': [2_000, 6_000],
  'packet-loss': [3_000, 10_000],
  delay: [2_000, 8_000],
  'disk-full': [3_000, 10_000],
  bitflip: [0, 0],
  truncate: [0, 0],
  'pause-primary': [3_500, 7_000],
  'pause-leader': [500, 4_000],
};

/**
 * The fault plan of a seed: every kind allowed once in a seeded order, then
 * seeded picks, as many as a run can use (the runner stops when its time is
 * up). The same seed gives the same plan; what each fault hits depends on
 * the cluster's state when it comes (which master leads), chosen with the
 * fault's own seed.
 */
export function faultPlan(seed: number, kinds: readonly FaultKind[] = FAULT_KINDS, length = 1_000): PlannedFault[] {
  if (kinds.length === 0) throw new Error('a fault plan needs at least one kind');
  const rng = new Prng(seed);
  const order = [...kinds];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  while (order.length < length) order.push(rng.pick(kinds));
  return order.map((kind) => {
    const [lo, hi] = HOLD_MS[kind];
    return { kind, holdMs: rng.int(lo, hi), gapMs: rng.int(500, 3_000), seed: rng.int(0, 2 ** 31 - 1) };
  });
}

export function parseKinds(list: string): FaultKind[] {
  const kinds = list.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`unknown fault kind ${k} (known: ${FAULT_KINDS.join(', ')})`);
  }
  return kinds as FaultKind[];
}
