import type { Prng } from '../../sim/prng.js';
import type { FaultContext } from './fault.js';

/** The leading master, if the group has one now. */
export async function leaderName(ctx: FaultContext): Promise<string | undefined> {
  return ctx.probe.leader();
}

/** The chunkserver that is primary of the appenders' tail chunk; a random one if no lease can be learned. */
export async function tailPrimaryName(ctx: FaultContext, rng: Prng): Promise<{ name: string; primary: boolean }> {
  const address = await ctx.probe.tailPrimary(ctx.logInode);
  const found = ctx.cluster.chunkservers().find((p) => p.address === address);
  return found !== undefined ? { name: found.name, primary: true } : { name: rng.pick(ctx.chunkservers), primary: false };
}
