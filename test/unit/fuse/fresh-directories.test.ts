import { expect } from 'chai';
import type { FileAttr } from '../../../client-lib/types.js';
import { FreshDirectories } from '../../../fuse/fresh-directories.js';

function dir(inode: number, ctimeMs: number, nlink = 2): FileAttr {
  return { inode, kind: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, nlink, atimeMs: 0, mtimeMs: ctimeMs, ctimeMs, replication: 0, chunkCount: 0, rdev: 0 };
}

describe('FreshDirectories: directory attributes a change returned, for the next getattr', () => {
  const clock = { now: 0 };
  const fresh = (ttlMs = 1_000): FreshDirectories => new FreshDirectories(ttlMs, () => clock.now);

  it('answers one getattr with what the change returned, then asks the master again', () => {
    const f = fresh();
    f.note(dir(5, 100));
    expect(f.take(5)).to.deep.equal(dir(5, 100));
    expect(f.take(5)).to.equal(undefined);
    expect(f.take(6)).to.equal(undefined);
  });

  it('never answers after the attribute timeout, nor at all when the timeout is 0', () => {
    const f = fresh(1_000);
    f.note(dir(5, 100));
    clock.now += 1_000;
    expect(f.take(5)).to.equal(undefined);
    const off = fresh(0);
    off.note(dir(5, 100));
    expect(off.take(5)).to.equal(undefined);
  });

  it('keeps the later of two changes whose replies arrive out of order', () => {
    const f = fresh();
    f.note(dir(5, 200, 4));
    f.note(dir(5, 100, 3));
    expect(f.take(5)).to.deep.equal(dir(5, 200, 4));
  });

  it('drops a directory when two changes at the same time disagree, or when a change returned nothing', () => {
    const f = fresh();
    f.note(dir(5, 100, 3));
    f.note(dir(5, 100, 4));
    expect(f.take(5)).to.equal(undefined);
    f.note(dir(7, 100));
    f.forget(7);
    expect(f.take(7)).to.equal(undefined);
    f.note(dir(8, 100));
    f.clear();
    expect(f.take(8)).to.equal(undefined);
  });
});
