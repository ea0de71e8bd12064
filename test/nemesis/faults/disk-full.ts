import type { Injector } from './fault.js';

/** The small-disk chunkserver's file system filled to the last byte, then freed. */
export const diskFull: Injector = async (ctx) => {
  const bytes = await ctx.smallDisk.fill();
  return {
    description: `fill the disk of ${ctx.smallDisk.name} (${(bytes / 2 ** 20).toFixed(1)} MiB of filler)`,
    heal: () => ctx.smallDisk.free(),
  };
};
