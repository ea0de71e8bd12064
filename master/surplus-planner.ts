import type { ServerId } from '../common/ids.js';
import { cost, rackKey, type PlacementCandidate } from './placement-policy.js';

/**
 * Chooses which replicas of a chunk to delete so that `keep` remain: one at
 * a time, the one whose loss keeps the most zones, then the most racks, and
 * among those the fullest and busiest server. Never fewer than `keep`
 * remain. Pure; ties go to the higher server id, so the choice is stable.
 */
export function chooseSurplus(replicas: readonly PlacementCandidate[], keep: number): PlacementCandidate[] {
  const remaining = [...replicas];
  const victims: PlacementCandidate[] = [];
  while (remaining.length > Math.max(keep, 0)) {
    let best = -1;
    let bestScore: [number, number, number, ServerId] | undefined;
    for (let i = 0; i < remaining.length; i++) {
      const rest = remaining.filter((_, j) => j !== i);
      const score: [number, number, number, ServerId] = [
        new Set(rest.map((c) => c.zone)).size,
        new Set(rest.map(rackKey)).size,
        cost(remaining[i]!),
        remaining[i]!.id,
      ];
      if (bestScore === undefined || higher(score, bestScore)) {
        best = i;
        bestScore = score;
      }
    }
    victims.push(...remaining.splice(best, 1));
  }
  return victims;
}

function higher(a: [number, number, number, ServerId], b: [number, number, number, ServerId]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
  return a[3] > b[3];
}
