import type { FaultContext, Injector } from './fault.js';
import { leaderName } from './targets.js';

function allHosts(ctx: FaultContext): number[] {
  return ctx.hosts.hosts.map((h) => h.index);
}

function healing(ctx: FaultContext, hosts: readonly number[]) {
  return async () => {
    for (const h of hosts) await ctx.net.heal(h);
  };
}

/** The leading master loses every other host (masters and chunkservers), both ways; clients still reach it. */
export const partitionLeader: Injector = async (ctx) => {
  const leader = await leaderName(ctx);
  if (leader === undefined) return undefined;
  const h = ctx.hostOf(leader);
  await ctx.net.cut(h, allHosts(ctx), 'both');
  return { description: `isolate ${leader} (the leading master) from every other host`, heal: healing(ctx, [h]) };
};

/**
 * The hosts split in two: a minority of one master and one to three
 * chunkservers, a majority of the rest. Clients reach both sides.
 */
export const partitionHalves: Injector = async (ctx, rng) => {
  const master = rng.pick(ctx.masters);
  const servers = [...ctx.chunkservers];
  const minority = [master];
  for (let n = rng.int(1, 3); n > 0; n--) minority.push(servers.splice(rng.int(0, servers.length - 1), 1)[0]!);
  const minorityHosts = minority.map((m) => ctx.hostOf(m));
  const majorityHosts = allHosts(ctx).filter((h) => !minorityHosts.includes(h));
  for (const h of minorityHosts) await ctx.net.cut(h, majorityHosts, 'both');
  return { description: `partition {${minority.join(', ')}} from the other hosts`, heal: healing(ctx, minorityHosts) };
};

/** One host hears nothing from the others but still sends to them: the leading master or a chunkserver. */
export const partitionOneWay: Injector = async (ctx, rng) => {
  const leader = rng.chance(0.5) ? await leaderName(ctx) : undefined;
  const target = leader ?? rng.pick(ctx.chunkservers);
  const h = ctx.hostOf(target);
  await ctx.net.cut(h, allHosts(ctx), 'inbound');
  return { description: `${target}${leader !== undefined ? ' (the leading master)' : ''} receives nothing from other hosts, still sends`, heal: healing(ctx, [h]) };
};
