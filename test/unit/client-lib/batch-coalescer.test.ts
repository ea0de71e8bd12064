import { expect } from 'chai';

import { DfsError } from '../../../common/errors.js';
import { Coalescer } from '../../../client-lib/batch-coalescer.js';

/** A send function under the test's control: every batch waits until the test answers it. */
class FakeSender {
  readonly batches: number[][] = [];
  private pending: { resolve: (results: string[]) => void; reject: (err: unknown) => void; ops: number[] }[] = [];

  readonly send = (ops: number[]): Promise<string[]> => {
    this.batches.push([...ops]);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject, ops }));
  };

  get inFlight(): number {
    return this.pending.length;
  }

  /** Answers the oldest batch, each op with `r<op>`, or as `results` says. */
  answer(results?: string[]): void {
    const p = this.pending.shift();
    if (p === undefined) expect.fail('no batch in flight');
    p.resolve(results ?? p.ops.map((op) => `r${op}`));
  }

  fail(err: unknown): void {
    const p = this.pending.shift();
    if (p === undefined) expect.fail('no batch in flight');
    p.reject(err);
  }
}

/** Lets setImmediate callbacks (the coalescer's sends) and the promise continuations they cause run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function coalescer(sender: FakeSender, limits = { opsMax: 4, bytesMax: 1000 }, bytesOf = (_op: number) => 10): Coalescer<number, string> {
  return new Coalescer<number, string>(sender.send, limits, bytesOf);
}

describe('client coalescer (group commit of metadata calls)', () => {
  it('ops submitted in one turn leave as one batch, in submission order, and each caller gets its own result', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender);
    const results = [1, 2, 3].map((op) => c.submit(op));
    await settle();
    expect(sender.batches).to.deep.equal([[1, 2, 3]]);
    sender.answer();
    expect(await Promise.all(results)).to.deep.equal(['r1', 'r2', 'r3']);
  });

  it('while a batch is in flight new ops queue, and leave together as the next batch when it returns', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender);
    const first = c.submit(1);
    await settle();
    const later = [2, 3, 4].map((op) => c.submit(op));
    await settle();
    expect(sender.inFlight, 'one batch at a time').to.equal(1);
    expect(c.queued).to.equal(3);
    sender.answer();
    expect(await first).to.equal('r1');
    await settle();
    expect(sender.batches).to.deep.equal([[1], [2, 3, 4]]);
    sender.answer();
    expect(await Promise.all(later)).to.deep.equal(['r2', 'r3', 'r4']);
  });

  it('callers answered by a batch who call again join the queued ops in the next batch', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender, { opsMax: 100, bytesMax: 10_000 });
    // Two loops that each await their op, then submit the next: they keep one op each in flight.
    const loop = async (base: number) => {
      for (let i = 0; i < 3; i++) await c.submit(base + i);
    };
    const loops = Promise.all([loop(10), loop(20)]);
    await settle();
    expect(sender.batches).to.deep.equal([[10, 20]]);
    sender.answer();
    await settle();
    expect(sender.batches[1]).to.deep.equal([11, 21]);
    sender.answer();
    await settle();
    sender.answer();
    await loops;
    expect(sender.batches).to.have.length(3);
  });

  it('a batch holds at most opsMax ops and bytesMax estimated bytes; a single larger op still goes, alone', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender, { opsMax: 3, bytesMax: 100 }, (op) => (op === 99 ? 500 : 40));
    const all = [1, 2, 3, 4, 5, 99, 6].map((op) => c.submit(op));
    for (let i = 0; i < 5; i++) {
      await settle();
      sender.answer();
    }
    await Promise.all(all);
    // 40-byte ops: two fit in 100 bytes; the 500-byte op exceeds the budget alone and goes alone.
    expect(sender.batches).to.deep.equal([[1, 2], [3, 4], [5], [99], [6]]);
  });

  it('a batch that fails whole rejects each of its ops with that error; the queue behind it still goes', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender);
    const failed = [1, 2].map((op) => c.submit(op));
    await settle();
    const next = c.submit(3);
    const err = new DfsError('UNAVAILABLE', 'gave up');
    sender.fail(err);
    for (const p of failed) {
      const caught = await p.then(
        () => expect.fail('resolved'),
        (e: unknown) => e,
      );
      expect(caught).to.equal(err);
    }
    await settle();
    sender.answer();
    expect(await next).to.equal('r3');
  });

  it('a reply with the wrong number of results fails every op of its batch with INTERNAL', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender);
    const ops = [1, 2].map((op) => c.submit(op).catch((e: unknown) => e));
    await settle();
    sender.answer(['only one']);
    for (const e of await Promise.all(ops)) expect((e as DfsError).code).to.equal('INTERNAL');
  });

  it('close() fails the queued ops with UNAVAILABLE and refuses new ones', async () => {
    const sender = new FakeSender();
    const c = coalescer(sender);
    const inFlight = c.submit(1);
    await settle();
    const queued = c.submit(2).catch((e: unknown) => e);
    c.close();
    expect(((await queued) as DfsError).code).to.equal('UNAVAILABLE');
    expect(((await c.submit(3).catch((e: unknown) => e)) as DfsError).code).to.equal('UNAVAILABLE');
    sender.answer();
    expect(await inFlight).to.equal('r1');
  });
});
