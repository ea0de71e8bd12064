import type { Injector } from './fault.js';

/** Random inbound packet loss (iptables statistic) on some hosts, clients' packets included. */
export const packetLoss: Injector = async (ctx, rng) => {
  const probability = rng.int(5, 30) / 100;
  const names = [...ctx.masters, ...ctx.chunkservers];
  const count = rng.int(1, names.length);
  const chosen: string[] = [];
  while (chosen.length < count) {
    const n = rng.pick(names);
    if (!chosen.includes(n)) chosen.push(n);
  }
  for (const name of chosen) await ctx.net.loss(ctx.hostOf(name), probability);
  return {
    description: `drop ${Math.round(probability * 100)}% of packets arriving at ${chosen.join(', ')}`,
    heal: async () => {
      for (const name of chosen) await ctx.net.heal(ctx.hostOf(name));
    },
  };
};
