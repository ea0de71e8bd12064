import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { DfsClientOptions } from './client-options.js';

/**
 * Nearest replica first: on this node, then in this rack, then in this zone,
 * then anywhere; shuffled within each tier so that readers spread their load.
 */
export function orderReplicas(
  replicas: readonly ServerRef__Output[],
  locality: DfsClientOptions['locality'],
  random: () => number,
): ServerRef__Output[] {
  const local = new Set(locality?.serverIds ?? []);
  const tier = (r: ServerRef__Output): number => {
    if (local.has(r.id)) return 0;
    if (locality?.zone !== undefined && r.zone === locality.zone) return locality.rack !== undefined && r.rack === locality.rack ? 1 : 2;
    return 3;
  };
  return replicas
    .map((r) => ({ r, key: tier(r) + random() * 0.5 }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.r);
}
