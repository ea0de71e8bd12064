import type { Injector } from './fault.js';
import { leaderName, tailPrimaryName } from './targets.js';

/** SIGKILL, then (at heal) a restart on the same data and port: a crash and a reboot. */
async function killThenRestart(ctx: Parameters<Injector>[0], name: string, why: string) {
  await ctx.cluster.killAndWait(name);
  return {
    description: `SIGKILL ${name} (${why})`,
    heal: () => ctx.cluster.startMissing(),
  };
}

export const killLeader: Injector = async (ctx) => {
  const leader = await leaderName(ctx);
  if (leader === undefined) return undefined;
  return killThenRestart(ctx, leader, 'the leading master');
};

export const killChunkserver: Injector = async (ctx, rng) => killThenRestart(ctx, rng.pick(ctx.chunkservers), 'a chunkserver');

export const killPrimary: Injector = async (ctx, rng) => {
  const { name, primary } = await tailPrimaryName(ctx, rng);
  return killThenRestart(ctx, name, primary ? "the primary of the appenders' tail chunk" : 'no primary known: a chunkserver');
};
