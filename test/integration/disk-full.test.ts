import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { isAlive } from '../../cli/process-launcher.js';
import { isDfsError, type DfsClient } from '../../client-lib/index.js';
import { SmallDisk } from '../harness/small-disk.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';

const MiB = 1024 * 1024;

/**
 * A chunkserver whose file system fills up, by its own chunks or by someone
 * else's file: writes are refused with NO_SPACE, the server stays up and
 * keeps serving what it holds, and writes work again once space is freed.
 */
describe('a chunkserver on a full disk (1 chunkserver on a 48 MiB tmpfs)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let disk: SmallDisk | undefined;
  let client: DfsClient;
  /** Attempts write distinct files: a refused one may leave its (empty) file behind. */
  let attempt = 0;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 1, masterArgs: [...FAST_MASTER_ARGS, '--replication', '1', '--trash-retention-ms', '0'] });
    disk = await SmallDisk.install(cluster, 'chunkserver-0', 48 * MiB);
    await cluster.startMissing();
    client = await cluster.client({ retry: { deadlineMs: 8_000 } });
  });
  after(async () => {
    // The tmpfs goes first (lazily), so that the cluster's directory under it can be removed.
    disk?.unmount();
    await cluster?.stop();
  });

  /** Writes files of `size` until one is refused; returns what was written and the refusal. */
  async function writeUntilRefused(prefix: string, size: number): Promise<{ written: Map<string, Buffer>; refusal: unknown }> {
    const written = new Map<string, Buffer>();
    for (let i = 0; i < 64; i++) {
      const data = randomBytes(size);
      try {
        await client.writeFile(`${prefix}${i}`, data);
        written.set(`${prefix}${i}`, data);
      } catch (err) {
        return { written, refusal: err };
      }
    }
    throw new Error('a 48 MiB disk took 64 files');
  }

  it('refuses writes with NO_SPACE once its own chunks fill it to the reserve, and stays up', async () => {
    const { written, refusal } = await writeUntilRefused('/own-', 3 * MiB);
    expect(written.size, 'files written before the disk filled').to.be.greaterThan(4);
    expect(isDfsError(refusal, 'NO_SPACE') || isDfsError(refusal, 'UNAVAILABLE'), String(refusal)).to.equal(true);
    // Once the server's heartbeat reports the disk full, the master refuses at once.
    await waitFor('NO_SPACE from the master', async () => {
      try {
        await client.writeFile(`/one-more-${++attempt}`, randomBytes(MiB));
        return undefined;
      } catch (err) {
        return isDfsError(err, 'NO_SPACE') ? true : undefined;
      }
    }, 20_000);
    expect(isAlive(cluster.process('chunkserver-0').pid)).to.equal(true);
    for (const [path, data] of written) expect((await client.readFile(path)).equals(data), path).to.equal(true);
    // Deleted files skip the trash here (--trash-retention-ms 0): their chunks free the disk.
    for (const path of written.keys()) await client.delete(path);
  });

  it('survives someone else filling the disk to the last byte, and writes again once it is freed', async () => {
    const before = randomBytes(2 * MiB + 17);
    const beforePath = await waitFor('room again after the deletes', async () => {
      try {
        const path = `/before-${++attempt}`;
        await client.writeFile(path, before);
        return path;
      } catch {
        return undefined;
      }
    }, 30_000);
    await disk!.fill();
    await waitFor('NO_SPACE while the disk is full', async () => {
      try {
        await client.writeFile(`/during-${++attempt}`, randomBytes(MiB));
        return undefined;
      } catch (err) {
        return isDfsError(err, 'NO_SPACE') ? true : undefined;
      }
    }, 20_000);
    expect(isAlive(cluster.process('chunkserver-0').pid), 'the chunkserver is up').to.equal(true);
    expect((await client.readFile(beforePath)).equals(before), 'a file written before reads back').to.equal(true);
    await disk!.free();
    const after = randomBytes(3 * MiB);
    const afterPath = await waitFor('writes accepted again', async () => {
      try {
        const path = `/after-${++attempt}`;
        await client.writeFile(path, after);
        return path;
      } catch {
        return undefined;
      }
    }, 30_000);
    expect((await client.readFile(afterPath)).equals(after)).to.equal(true);
  });
});
