import { randomBytes } from 'node:crypto';
import { callUnary } from '../../common/grpc-client-pool.js';
import type { DfsClient } from '../../client-lib/index.js';
import type { TestCluster } from '../harness/test-cluster.js';
import { rawClients } from '../harness/raw-clients.js';
import type { FuzzServer, FuzzWorld, SandboxChunk } from './fuzz-world.js';

/** The reference files: written before the storm, read back byte for byte after it. */
export interface ReferenceFile {
  path: string;
  bytes: Buffer;
}

const KEEP = '/keep';
const SANDBOX = '/fuzz';

/** Writes the reference files and the sandbox, and learns the cluster's ids, for the generator. */
export async function buildWorld(cluster: TestCluster, client: DfsClient): Promise<{ world: FuzzWorld; reference: ReferenceFile[]; leader: FuzzServer; follower: FuzzServer }> {
  const chunk = cluster.chunkSizeBytes;
  const reference: ReferenceFile[] = [
    { path: `${KEEP}/small`, bytes: randomBytes(1000) },
    { path: `${KEEP}/two-chunks`, bytes: randomBytes(chunk + chunk / 2) },
    { path: `${KEEP}/dir/empty`, bytes: Buffer.alloc(0) },
  ];
  await client.mkdir(KEEP);
  await client.mkdir(`${KEEP}/dir`);
  for (const f of reference) await client.writeFile(f.path, f.bytes);
  const appended = `${KEEP}/appended`;
  await client.create(appended);
  const records = [Buffer.from('first record\n'), Buffer.from('second record\n')];
  for (const r of records) await client.append(appended, r);
  reference.push({ path: appended, bytes: Buffer.concat(records) });

  await client.mkdir(SANDBOX);
  await client.mkdir(`${SANDBOX}/d`);
  await client.writeFile(`${SANDBOX}/a`, randomBytes(100_000));
  await client.writeFile(`${SANDBOX}/b`, randomBytes(chunk + 10));
  await client.create(`${SANDBOX}/c`);
  const sandboxPaths = [SANDBOX, `${SANDBOX}/d`, `${SANDBOX}/a`, `${SANDBOX}/b`, `${SANDBOX}/c`];
  // The storm acts as an ordinary user: the sandbox is open to it, so its requests get past permissions.
  for (const p of sandboxPaths) await client.setAttributes(p, { mode: p === SANDBOX || p.endsWith('/d') ? 0o777 : 0o666 });

  const raw = rawClients(cluster.masters[0]!, cluster.channelCredentials('admin'));
  try {
    const chunksOf = async (path: string): Promise<SandboxChunk[]> => {
      const inode = String((await client.stat(path)).inode);
      const page = await callUnary(raw.metadata(), 'GetChunks', { inode, firstIndex: '0', count: 0 }, 10_000);
      return page.chunks.map((c) => ({ handle: c.handle, version: c.version }));
    };
    const protectedPaths = [KEEP, `${KEEP}/dir`, ...reference.map((f) => f.path)];
    const protectedHandles: string[] = [];
    for (const f of reference) protectedHandles.push(...(await chunksOf(f.path)).map((c) => c.handle));
    const sandboxChunks = [...(await chunksOf(`${SANDBOX}/a`)), ...(await chunksOf(`${SANDBOX}/b`))];

    const status = await client.raftStatus();
    const masters = status.members.map((m) => ({ id: m.id, address: m.address }));
    const leader = masters.find((m) => m.id === status.leaderId);
    const follower = masters.find((m) => m.id !== status.leaderId);
    if (leader === undefined || follower === undefined) throw new Error(`no leader and follower in ${JSON.stringify(status)}`);
    const chunkservers: FuzzServer[] = [];
    for (const p of cluster.chunkservers()) chunkservers.push({ id: await cluster.serverId(p.name), address: p.address });

    const world: FuzzWorld = {
      sandboxPaths,
      sandboxInodes: await Promise.all(sandboxPaths.map(async (p) => String((await client.stat(p)).inode))),
      sandboxChunks,
      chunkservers,
      masters,
      raftTerm: Number(status.term),
      protectedPathPrefix: KEEP,
      protectedName: KEEP.slice(1),
      protectedInodes: await Promise.all(protectedPaths.map(async (p) => String((await client.stat(p)).inode))),
      protectedHandles,
    };
    return { world, reference, leader, follower };
  } finally {
    raw.close();
  }
}
