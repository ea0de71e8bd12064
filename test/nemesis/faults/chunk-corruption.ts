import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { chunksRoot } from '../../../chunkserver/chunk-files.js';
import type { Prng } from '../../sim/prng.js';
import type { FaultContext, Injector } from './fault.js';
import { noHeal } from './fault.js';

interface ChunkFile {
  readonly server: string;
  readonly handle: number;
  readonly path: string;
  readonly size: number;
}

/** The replica files on a chunkserver's disk whose chunk was never damaged before, with their sizes. */
async function candidates(ctx: FaultContext, server: string): Promise<ChunkFile[]> {
  const root = chunksRoot(ctx.cluster.process(server).dataDir);
  const out: ChunkFile[] = [];
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const dir of dirs.sort()) {
    for (const name of (await readdir(join(root, dir))).sort()) {
      const m = /^([0-9a-f]{16})\.chunk$/.exec(name);
      if (m === null) continue;
      const handle = Number.parseInt(m[1]!, 16);
      if (ctx.corruptedHandles.has(handle)) continue;
      const path = join(root, dir, name);
      try {
        const { size } = await stat(path);
        if (size > 0) out.push({ server, handle, path, size });
      } catch (err) {
        // Deleted by the server (collected, replaced) while we looked.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return out;
}

/** A replica to damage: on a random chunkserver that has one, of a chunk never damaged before. */
async function pickReplica(ctx: FaultContext, rng: Prng): Promise<ChunkFile | undefined> {
  const servers = [...ctx.chunkservers];
  while (servers.length > 0) {
    const server = servers.splice(rng.int(0, servers.length - 1), 1)[0]!;
    const files = await candidates(ctx, server);
    if (files.length > 0) return rng.pick(files);
  }
  return undefined;
}

/** Flips 1 to 8 random bits of one replica file on disk, behind its chunkserver's back. */
export const bitflip: Injector = async (ctx, rng) => {
  const target = await pickReplica(ctx, rng);
  if (target === undefined) return undefined;
  ctx.corruptedHandles.add(target.handle);
  const file = await open(target.path, 'r+');
  const flips: string[] = [];
  try {
    for (let n = rng.int(1, 8); n > 0; n--) {
      const at = rng.int(0, target.size - 1);
      const bit = rng.int(0, 7);
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ (1 << bit);
      await file.write(byte, 0, 1, at);
      flips.push(`${at}.${bit}`);
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return { description: `flip bits (byte.bit ${flips.join(' ')}) of chunk ${target.handle}'s replica on ${target.server}`, heal: noHeal };
};

/** Cuts one replica file on disk to a random shorter length. */
export const truncateReplica: Injector = async (ctx, rng) => {
  const target = await pickReplica(ctx, rng);
  if (target === undefined) return undefined;
  ctx.corruptedHandles.add(target.handle);
  const length = rng.int(0, target.size - 1);
  await truncate(target.path, length);
  return { description: `truncate chunk ${target.handle}'s replica on ${target.server} from ${target.size} to ${length} bytes`, heal: noHeal };
};
