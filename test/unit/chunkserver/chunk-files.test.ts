import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AssertionError } from '../../../common/assert.js';
import { chunkHandle, type ChunkHandle } from '../../../common/ids.js';
import { silentLogger } from '../../../common/logger.js';
import { ChunkFiles, chunkPath, readFull, writeFull } from '../../../chunkserver/chunk-files.js';
import { pageCacheControl } from '../../../chunkserver/page-cache.js';
import { useTempDir } from './helpers.js';

describe('chunk files', () => {
  const tmp = useTempDir();

  it('places a chunk at chunks/<low byte>/<16 hex digits>.chunk', () => {
    expect(chunkPath('/data', chunkHandle(0x1234abcd))).to.equal('/data/chunks/cd/000000001234abcd.chunk');
    expect(chunkPath('/data', chunkHandle(0))).to.equal('/data/chunks/00/0000000000000000.chunk');
    expect(chunkPath('/data', chunkHandle(Number.MAX_SAFE_INTEGER))).to.equal('/data/chunks/ff/001fffffffffffff.chunk');
  });

  it('refuses handles that are not safe non-negative integers', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      expect(() => chunkPath('/data', bad as ChunkHandle), String(bad)).to.throw(AssertionError);
    }
  });

  it('has id constructors that refuse negative, fractional and too large handles', () => {
    for (const bad of [-1, 0.5, 2 ** 53, '9007199254740993', '-3', 'abc']) {
      expect(() => chunkHandle(bad), String(bad)).to.throw(AssertionError);
    }
    expect(chunkHandle('42')).to.equal(42);
  });

  it('keeps at most openFilesMax descriptors open', async () => {
    const files = new ChunkFiles(tmp.path, 3, silentLogger, false);
    await files.prepare();
    for (let h = 1; h <= 10; h++) await files.create(h as ChunkHandle);
    expect(files.openCount).to.equal(3);
    for (let h = 1; h <= 10; h++) await files.use(h as ChunkHandle, async (f) => f.write(Buffer.from([h]), 0, 1, 0));
    expect(files.openCount).to.equal(3);
    for (let h = 1; h <= 10; h++) expect((await files.use(h as ChunkHandle, (f) => readFull(f, 0, 1)))[0]).to.equal(h);
    await files.close();
    expect(files.openCount).to.equal(0);
  });

  it('reads past the end of a file as zeros', async () => {
    const path = join(tmp.path, 'f');
    await writeFile(path, Buffer.from([1, 2, 3]));
    const file = await open(path, 'r');
    try {
      expect([...(await readFull(file, 1, 6))]).to.deep.equal([2, 3, 0, 0, 0, 0]);
    } finally {
      await file.close();
    }
  });

  it('finds chunk files and leaves unexpected names alone', async () => {
    const files = new ChunkFiles(tmp.path, 8, silentLogger, false);
    await files.prepare();
    await files.create(0x305 as ChunkHandle);
    await writeFile(join(tmp.path, 'chunks', '05', 'notes.txt'), 'x');
    // A valid name in the wrong directory is not ours either.
    await writeFile(join(tmp.path, 'chunks', '07', '0000000000000305.chunk'), 'x');
    const found = await files.scan();
    expect([...found.entries()]).to.deep.equal([[0x305, 0]]);
    await files.close();
  });

  describe('drop-behind', () => {
    /** Bytes of the file in the page cache, as fincore (util-linux) counts them. */
    const residentBytes = async (path: string): Promise<number> =>
      Number((await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES', path])).stdout.trim());
    const length = 4 * 1024 * 1024 + 100;

    const writeAndSync = async (dropsBehind: boolean): Promise<number> => {
      const files = new ChunkFiles(tmp.path, 8, silentLogger, dropsBehind);
      await files.prepare();
      const handle = (dropsBehind ? 1 : 2) as ChunkHandle;
      await files.create(handle);
      await files.use(handle, async (file) => {
        await writeFull(file, Buffer.alloc(length, 7), 0);
        await files.syncData(file, length);
      });
      await files.close();
      return residentBytes(chunkPath(tmp.path, handle));
    };

    it('has the fadvise addon built and loaded', () => {
      expect(pageCacheControl).to.equal(true);
    });

    it('drops the pages a sync made clean, and keeps them when off', async () => {
      // Without it the 4 MiB just written stay cached; with it at most the last, partial, page (or its folio) does.
      expect(await writeAndSync(false)).to.be.at.least(4 * 1024 * 1024);
      expect(await writeAndSync(true)).to.be.below(1024 * 1024);
    });
  });
});
