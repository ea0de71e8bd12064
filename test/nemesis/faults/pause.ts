import { isAlive } from '../../../cli/process-launcher.js';
import type { FaultContext, Injector } from './fault.js';
import { leaderName, tailPrimaryName } from './targets.js';

/** SIGSTOP until heal, then SIGCONT: the process wakes believing what it believed (a lease, leadership) when it stopped. */
function pause(ctx: FaultContext, name: string, why: string) {
  const { pid } = ctx.cluster.process(name);
  ctx.paused.add(pid);
  process.kill(pid, 'SIGSTOP');
  return {
    description: `SIGSTOP ${name} (${why})`,
    heal: async () => {
      if (isAlive(pid)) process.kill(pid, 'SIGCONT');
      ctx.paused.delete(pid);
    },
  };
}

export const pauseLeader: Injector = async (ctx) => {
  const leader = await leaderName(ctx);
  return leader === undefined ? undefined : pause(ctx, leader, 'the leading master');
};

export const pausePrimary: Injector = async (ctx, rng) => {
  const { name, primary } = await tailPrimaryName(ctx, rng);
  return pause(ctx, name, primary ? "the primary of the appenders' tail chunk, past its lease" : 'no primary known: a chunkserver');
};
