import type { Injector } from './fault.js';
import { leaderName } from './targets.js';

/** Latency on every connection into a master (the leader more often than not), through its delay proxy. */
export const delay: Injector = async (ctx, rng) => {
  const leader = rng.chance(0.6) ? await leaderName(ctx) : undefined;
  const target = leader ?? rng.pick(ctx.masters);
  const delayMs = rng.int(100, 1_200);
  ctx.proxies.setDelay(target, delayMs);
  return {
    description: `delay every byte into ${target}${leader !== undefined ? ' (the leading master)' : ''} by ${delayMs} ms`,
    heal: async () => ctx.proxies.setDelay(target, 0),
  };
};
