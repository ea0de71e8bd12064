import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { TestCluster } from '../harness/test-cluster.js';
import type { DfsClient } from '../../client-lib/index.js';

const MiB = 1024 * 1024;

/** Deterministic bytes, so that any misplaced range shows. */
function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('reads and writes on real processes (1 MiB chunks, 3 replicas)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: DfsClient;

  before(async () => {
    cluster = await TestCluster.start({ chunkservers: 3 });
    client = await cluster.client();
  });
  after(async () => cluster?.stop());

  it('writes a multi-chunk file through a stream and reads it back byte for byte', async () => {
    const data = randomBytes(5 * MiB + 12_345);
    const sink = await client.createWriteStream('/multi.bin');
    await new Promise<void>((resolve, reject) => {
      sink.on('finish', resolve).on('error', reject);
      for (let i = 0; i < data.length; i += 300_000) sink.write(data.subarray(i, i + 300_000));
      sink.end();
    });
    const attr = await client.stat('/multi.bin');
    expect(attr.size).to.equal(data.length);
    expect(attr.chunkCount).to.equal(6);
    expect((await client.readFile('/multi.bin')).equals(data)).to.equal(true);
    const parts: Buffer[] = [];
    for await (const part of await client.createReadStream('/multi.bin')) parts.push(part as Buffer);
    expect(Buffer.concat(parts).equals(data)).to.equal(true);
  });

  it('serves random reads at odd offsets and lengths, across chunk boundaries, clipped at the end', async () => {
    const data = pattern(3 * MiB + 777, 42);
    await client.writeFile('/random.bin', data);
    const file = await client.open('/random.bin');
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 60; i++) {
      const offset = next(data.length + 1000);
      const length = 1 + next(i % 3 === 0 ? 2 * MiB : 70_000);
      const got = await file.read(offset, length);
      const want = data.subarray(offset, Math.min(offset + length, data.length));
      expect(got.equals(want), `read(${offset}, ${length})`).to.equal(true);
    }
    expect((await file.read(MiB - 3, 6)).equals(data.subarray(MiB - 3, MiB + 3))).to.equal(true);
    expect((await file.read(data.length, 10)).length).to.equal(0);
  });

  it('reads back through the same open file what it just wrote into new chunks', async () => {
    const file = await client.open('/own-writes.bin', { create: true });
    // Before the write, the file's second chunk is a hole in the cached locations.
    expect((await file.read(0, 10)).length).to.equal(0);
    const data = pattern(MiB + 5000, 21);
    await file.write(0, data);
    expect((await file.read(0, data.length)).equals(data)).to.equal(true);
    expect((await file.read(MiB + 10, 100)).equals(data.subarray(MiB + 10, MiB + 110))).to.equal(true);
    const more = pattern(3000, 22);
    const at = await file.append(more);
    expect((await file.read(at, more.length)).equals(more)).to.equal(true);
    await file.close();
  });

  it('overwrites a range in the middle, including across a chunk boundary', async () => {
    const data = pattern(2 * MiB + 100, 3);
    await client.writeFile('/over.bin', data);
    const patch = pattern(300_000, 9);
    await client.write('/over.bin', MiB - 150_000, patch);
    patch.copy(data, MiB - 150_000);
    expect((await client.readFile('/over.bin')).equals(data)).to.equal(true);
    expect((await client.stat('/over.bin')).size).to.equal(data.length);
  });

  it('reads holes of a sparse file as zeros', async () => {
    await client.create('/sparse.bin');
    const tail = pattern(1000, 5);
    await client.write('/sparse.bin', 2 * MiB + 500, tail);
    const attr = await client.stat('/sparse.bin');
    expect(attr.size).to.equal(2 * MiB + 1500);
    const all = await client.readFile('/sparse.bin');
    expect(all.subarray(0, 2 * MiB + 500).every((b) => b === 0)).to.equal(true);
    expect(all.subarray(2 * MiB + 500).equals(tail)).to.equal(true);
  });

  it('truncates down (dropping whole chunks) and back up (zeros)', async () => {
    const data = pattern(3 * MiB, 11);
    await client.writeFile('/trunc.bin', data);
    await client.truncate('/trunc.bin', MiB + 10);
    let attr = await client.stat('/trunc.bin');
    expect(attr.size).to.equal(MiB + 10);
    expect(attr.chunkCount).to.equal(2);
    expect((await client.readFile('/trunc.bin')).equals(data.subarray(0, MiB + 10))).to.equal(true);
    await client.truncate('/trunc.bin', MiB + 5000);
    attr = await client.stat('/trunc.bin');
    const grown = await client.readFile('/trunc.bin');
    expect(grown.subarray(0, MiB + 10).equals(data.subarray(0, MiB + 10))).to.equal(true);
    expect(grown.subarray(MiB + 10).every((b) => b === 0)).to.equal(true);
  });

  it('keeps empty files and replaces contents with writeFile', async () => {
    await client.writeFile('/empty', Buffer.alloc(0));
    expect((await client.stat('/empty')).size).to.equal(0);
    expect((await client.readFile('/empty')).length).to.equal(0);
    await client.writeFile('/replace', pattern(MiB + 1, 1));
    await client.writeFile('/replace', Buffer.from('short'));
    expect((await client.readFile('/replace')).toString()).to.equal('short');
  });

  it('keeps namespace operations consistent: mkdir -p, list, rename over a file, delete', async () => {
    await client.mkdir('/d1/d2', { parents: true });
    await client.writeFile('/d1/d2/a', Buffer.from('A'));
    await client.writeFile('/d1/b', Buffer.from('B'));
    expect((await client.list('/d1')).map((e) => e.name)).to.deep.equal(['b', 'd2']);
    await client.rename('/d1/b', '/d1/d2/a');
    expect((await client.readFile('/d1/d2/a')).toString()).to.equal('B');
    expect((await client.list('/d1')).map((e) => e.name)).to.deep.equal(['d2']);
    try {
      await client.delete('/d1');
      expect.fail('deleting a non-empty directory must fail');
    } catch (err) {
      expect((err as { code: string }).code).to.equal('NOT_EMPTY');
    }
    await client.delete('/d1', { recursive: true });
    expect((await client.list('/')).map((e) => e.name)).to.not.include('d1');
  });
});
