import { expect } from 'chai';
import { DfsError } from '../../../common/errors.js';
import { chunkHandle, chunkVersion } from '../../../common/ids.js';
import { Import, ImportRegistry } from '../../../chunkserver/import-registry.js';
import { EMPTY_LINEAGE } from '../../../chunkserver/lineage.js';
import { expectCode } from './helpers.js';

const H = chunkHandle(7);
const v = chunkVersion;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('import registry: one fetch per chunk, imports followers can read', () => {
  it('a fetch of a newer version aborts the running one and starts after it has cleaned up', async () => {
    const registry = new ImportRegistry();
    const events: string[] = [];
    const first = new AbortController();
    const running = registry.exclusive(H, v(1), first, async () => {
      await new Promise<void>((resolve) => first.signal.addEventListener('abort', () => resolve()));
      events.push('first cleaned up');
      throw first.signal.reason;
    });
    const second = registry.exclusive(H, v(2), new AbortController(), async () => {
      events.push('second runs');
      return 'done';
    });
    expect((await expectCode(running, 'UNAVAILABLE')).message).to.match(/newer version/);
    expect(await second).to.equal('done');
    expect(events).to.deep.equal(['first cleaned up', 'second runs']);
    expect(registry.isFetching(H)).to.equal(false);
  });

  it('a fetch of the same or an older version waits for the running one instead of aborting it', async () => {
    const registry = new ImportRegistry();
    const gate = deferred();
    const first = new AbortController();
    const running = registry.exclusive(H, v(3), first, async () => {
      await gate.promise;
      return 'first';
    });
    const later = registry.exclusive(H, v(3), new AbortController(), async () => 'second');
    expect(registry.fetchingVersion(H)).to.equal(3);
    gate.resolve();
    expect(await running).to.equal('first');
    expect(first.signal.aborted).to.equal(false);
    expect(await later).to.equal('second');
  });

  it('abort() ends every fetch of the chunk, waiting ones included', async () => {
    const registry = new ImportRegistry();
    const a = new AbortController();
    const b = new AbortController();
    const untilAborted = (c: AbortController) => () =>
      new Promise<never>((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)));
    const ra = registry.exclusive(H, v(5), a, untilAborted(a));
    const rb = registry.exclusive(H, v(4), b, untilAborted(b));
    await registry.abort(H, new DfsError('NOT_FOUND', 'deleted'));
    await expectCode(ra, 'NOT_FOUND');
    await expectCode(rb, 'NOT_FOUND');
    expect(registry.isFetching(H)).to.equal(false);
  });

  it('a follower waits for an expected import to begin, and gets nothing for one not expected', async () => {
    const registry = new ImportRegistry();
    const signal = new AbortController().signal;
    expect(await registry.follow(H, v(2), 1_000, signal)).to.equal(undefined);
    registry.expect(H, v(2));
    const waiting = registry.follow(H, v(2), 5_000, signal);
    const imp = new Import(H, v(2), 1, 100, EMPTY_LINEAGE, 0);
    registry.begin(imp);
    expect(await waiting).to.equal(imp);
    // another version is not this import
    expect(await registry.follow(H, v(3), 10, signal)).to.equal(undefined);
  });

  it('a follower asking before this server has the task waits a little for it (the master sends every node its tasks at once)', async () => {
    const registry = new ImportRegistry();
    const signal = new AbortController().signal;
    const waiting = registry.follow(H, v(2), 5_000, signal, 2_000);
    registry.expect(H, v(2));
    const imp = new Import(H, v(2), 1, 100, EMPTY_LINEAGE, 0);
    registry.begin(imp);
    expect(await waiting).to.equal(imp);
    // No task arrives: nothing, once the wait for one is over.
    registry.end(imp);
    registry.unexpect(H);
    const started = Date.now();
    expect(await registry.follow(H, v(7), 5_000, signal, 50)).to.equal(undefined);
    expect(Date.now() - started).to.be.within(40, 1_000);
  });

  it('an import tells its followers about every advance, and a replaced one fails', async () => {
    const registry = new ImportRegistry();
    const imp = new Import(H, v(2), 1, 100, EMPTY_LINEAGE, 10);
    registry.begin(imp);
    expect(imp.frontier).to.equal(10);
    const changed = imp.changed();
    imp.advance(60);
    await changed;
    expect(imp.frontier).to.equal(60);
    const next = new Import(H, v(2), 2, 100, EMPTY_LINEAGE, 30);
    const failed = imp.changed();
    registry.begin(next);
    await failed;
    expect(imp.state).to.equal('failed');
    next.advance(100);
    next.complete();
    expect(next.state).to.equal('complete');
  });
});
