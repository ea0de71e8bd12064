import { expect } from 'chai';
import { chunkHandle, chunkVersion, type ChunkHandle } from '../../../common/ids.js';
import { taskAction, TaskQueue, type QueueEntry } from '../../../chunkserver/distribution-queue.js';
import { hottest, ReadHeat } from '../../../chunkserver/read-heat.js';
import { LIMITS } from '../../../common/limits.js';
import { rng } from './helpers.js';

const h = chunkHandle;
const v = chunkVersion;

describe('distribution agent: task table rules and start order', () => {
  it('a task for a version held here (or older) is done at once, whatever the table holds', () => {
    expect(taskAction(undefined, v(3), v(3))).to.equal('done');
    expect(taskAction({ version: v(3), state: 'running' }, v(2), v(4))).to.equal('done');
  });

  it('the same version already being fetched keeps its fetch; anything else replaces the old task', () => {
    expect(taskAction(undefined, v(3), undefined)).to.equal('add');
    expect(taskAction(undefined, v(3), v(2))).to.equal('add');
    expect(taskAction({ version: v(3), state: 'running' }, v(3), v(2))).to.equal('update');
    expect(taskAction({ version: v(3), state: 'queued' }, v(3), undefined)).to.equal('replace');
    // a failed task stays failed until a new task for its chunk arrives: then it runs again
    expect(taskAction({ version: v(3), state: 'failed' }, v(3), undefined)).to.equal('replace');
    expect(taskAction({ version: v(3), state: 'running' }, v(4), v(2))).to.equal('replace');
  });

  it('starts tasks by ascending order, first come first served within one order', () => {
    const q = new TaskQueue();
    const entries: QueueEntry[] = [
      { handle: h(1), order: 5, seq: 1 },
      { handle: h(2), order: 1, seq: 2 },
      { handle: h(3), order: 5, seq: 3 },
      { handle: h(4), order: 0, seq: 4 },
      { handle: h(5), order: 1, seq: 5 },
    ];
    for (const e of entries) q.push(e);
    const out: number[] = [];
    for (let e = q.pop(() => true); e !== undefined; e = q.pop(() => true)) out.push(e.handle);
    expect(out).to.deep.equal([4, 2, 5, 1, 3]);
  });

  it('skips entries of replaced or cancelled tasks, and compacts them away', () => {
    const rand = rng(11);
    const q = new TaskQueue();
    const current = new Map<ChunkHandle, number>();
    let seq = 0;
    for (let i = 0; i < 5000; i++) {
      const handle = h(rand(100));
      const entry = { handle, order: rand(50), seq: ++seq };
      current.set(handle, entry.seq);
      q.push(entry);
      const isCurrent = (e: QueueEntry): boolean => current.get(e.handle) === e.seq;
      q.compact(isCurrent, current.size);
      expect(q.size).to.be.at.most(2 * current.size + 16);
    }
    const isCurrent = (e: QueueEntry): boolean => current.get(e.handle) === e.seq;
    const popped: QueueEntry[] = [];
    for (let e = q.pop(isCurrent); e !== undefined; e = q.pop(isCurrent)) popped.push(e);
    expect(popped).to.have.length(current.size);
    for (let i = 1; i < popped.length; i++) {
      const [a, b] = [popped[i - 1]!, popped[i]!];
      expect(a.order < b.order || (a.order === b.order && a.seq < b.seq)).to.equal(true);
    }
  });
});

describe('read heat: the chunks clients read most since the last heartbeat', () => {
  it('reports the hottest first, at most the bound, and starts afresh', () => {
    const heat = new ReadHeat();
    for (let handle = 1; handle <= 40; handle++) for (let n = 0; n < handle; n++) heat.record(h(handle));
    const top = heat.take();
    expect(top).to.have.length(LIMITS.heatReportedChunksMax);
    expect(top[0]).to.deep.equal({ handle: 40, reads: 40 });
    expect(top.map((t) => t.handle)).to.deep.equal(Array.from({ length: 32 }, (_, i) => 40 - i));
    expect(heat.take()).to.deep.equal([]);
  });

  it('hottest() orders ties by handle and matches a full sort', () => {
    const rand = rng(5);
    const counts: [ChunkHandle, number][] = Array.from({ length: 500 }, (_, i) => [h(i), rand(20)]);
    const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10).map(([handle, reads]) => ({ handle, reads }));
    expect(hottest(counts, 10)).to.deep.equal(sorted);
  });
});
