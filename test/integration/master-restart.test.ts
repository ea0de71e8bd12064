import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { DfsClient } from '../../client-lib/index.js';
import { FAST_MASTER_ARGS, TestCluster } from '../harness/test-cluster.js';

const MiB = 1024 * 1024;

describe('the master killed and restarted on its data', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: DfsClient;

  before(async () => {
    // Snapshots every 100 entries, so that recovery goes through a snapshot and a log suffix.
    cluster = await TestCluster.start({ chunkservers: 3, masterArgs: [...FAST_MASTER_ARGS, '--snapshot-every-entries', '100'] });
    client = await cluster.client();
  });
  after(async () => cluster?.stop());

  it('keeps every acknowledged file and append, and serves writes again', async () => {
    const data = randomBytes(2 * MiB + 77);
    await client.writeFile('/before.bin', data);
    await client.mkdir('/dir/sub', { parents: true });
    for (let i = 0; i < 150; i++) await client.create(`/dir/sub/f${i}`);
    const log = await client.open('/log', { create: true });
    const offsets: number[] = [];
    for (let i = 0; i < 20; i++) offsets.push(await log.append(Buffer.from(`record ${i}\n`)));
    await log.close();
    await client.rename('/dir/sub/f0', '/dir/renamed');
    await client.delete('/dir/sub/f1');

    await cluster.killAndWait('master-0');
    await cluster.restart();

    // A fresh client: nothing comes from a cache.
    const after = await cluster.client();
    expect((await after.readFile('/before.bin')).equals(data)).to.equal(true);
    const names = (await after.list('/dir/sub')).map((e) => e.name);
    expect(names).to.have.length(148);
    expect(names).to.not.include('f0');
    expect(names).to.not.include('f1');
    expect((await after.stat('/dir/renamed')).kind).to.equal('file');
    const text = (await after.readFile('/log')).toString();
    for (let i = 0; i < 20; i++) expect(text.indexOf(`record ${i}\n`)).to.equal(offsets[i]);

    // Writes work again once the leases the old master may have granted have lapsed.
    const more = randomBytes(MiB + 3);
    await after.writeFile('/after.bin', more);
    expect((await after.readFile('/after.bin')).equals(more)).to.equal(true);
    const again = await after.open('/log');
    const offset = await again.append(Buffer.from('record 20\n'));
    expect(offset).to.equal(text.length);
  });
});
