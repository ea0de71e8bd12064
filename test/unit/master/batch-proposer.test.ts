import { expect } from 'chai';

import { DfsError } from '../../../common/errors.js';
import { LIMITS } from '../../../common/limits.js';
import { BatchProposer } from '../../../master/batch-proposer.js';
import { batchEntryFromBodies, decodeEntry, encodeBatchBody, encodeEntry, entries, type LogEntry } from '../../../master/log-entry.js';
import { type ApplyResult, MasterStateMachine } from '../../../master/state-machine.js';
import { T0 } from './harness.js';

const client = (seq: number) => ({ clientId: 'proposer-test', seq });
const create = (seq: number, path = `/f${seq}`) => entries.create(0, client(seq), { path, mode: 0o644 });

/** A log under the test's control: records each proposed entry's sub-entry paths; applies on answer(). */
class FakeLog {
  readonly proposed: string[][] = [];
  private pending: { entry: Uint8Array; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }[] = [];
  constructor(readonly sm = initialized()) {}

  readonly propose = (entry: Uint8Array): Promise<ApplyResult> => {
    const decoded = decodeEntry(entry);
    this.proposed.push((decoded.batch?.entries ?? []).map((e) => e.create?.path ?? e.op ?? '?'));
    return new Promise((resolve, reject) => this.pending.push({ entry, resolve, reject }));
  };

  get inFlight(): number {
    return this.pending.length;
  }

  /** Applies the oldest proposed entry and answers it. */
  answer(): void {
    const p = this.pending.shift();
    if (p === undefined) expect.fail('nothing proposed');
    p.resolve(this.sm.applyEncoded(p.entry));
  }

  fail(err: unknown): void {
    const p = this.pending.shift();
    if (p === undefined) expect.fail('nothing proposed');
    p.reject(err);
  }
}

function initialized(): MasterStateMachine {
  const sm = new MasterStateMachine();
  sm.applyEncoded(encodeEntry(entries.initCluster(T0, undefined, { chunkSizeBytes: 64 * 1024, defaultReplication: 3, clusterId: 't' })));
  return sm;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const submit = (p: BatchProposer, subs: LogEntry[]) => p.submit(encodeBatchBody(subs), subs.length);
const codes = (results: readonly ApplyResult[]) => results.map((r) => (r.ok ? (r.value.kind === 'attr' ? r.value.attr.inode : r.value.kind) : r.error.code));

describe('leader group commit of Batch calls (BatchProposer)', () => {
  it('joins bodies into the very bytes encodeEntry writes for the whole batch', () => {
    const subs = [create(1), entries.mkdir(0, client(2), { path: '/d', mode: 0o755 }), create(3, '/d/é')];
    for (const time of [T0, -5, 0]) {
      const joined = batchEntryFromBodies(time, [encodeBatchBody(subs.slice(0, 1)), encodeBatchBody(subs.slice(1))]);
      const whole = encodeEntry(entries.batch(time, subs));
      expect(decodeEntry(joined), `time ${time}`).to.deep.equal(decodeEntry(whole));
      // Byte for byte, but for a zero time, which proto3 lets us leave out.
      if (time !== 0) expect(joined.equals(whole), `time ${time}`).to.equal(true);
    }
    expect(batchEntryFromBodies(T0, [encodeBatchBody([])]).equals(encodeEntry(entries.batch(T0, [])))).to.equal(true);
  });

  it('an idle proposer proposes at once; calls that arrive meanwhile go together as the next entry, each answered with its own results', async () => {
    const log = new FakeLog();
    const p = new BatchProposer(log.propose, () => T0);
    const first = submit(p, [create(1)]);
    await settle();
    expect(log.proposed).to.deep.equal([['/f1']]);
    const second = submit(p, [create(2), create(3)]);
    const third = submit(p, [create(4, '/missing/f4'), create(5)]);
    await settle();
    expect(log.inFlight, 'they wait for the entry in flight').to.equal(1);
    log.answer();
    expect(codes(await first)).to.have.length(1);
    await settle();
    expect(log.proposed[1]).to.deep.equal(['/f2', '/f3', '/missing/f4', '/f5']);
    log.answer();
    const [r2, r3] = await Promise.all([second, third]);
    expect(r2.map((r) => r.ok)).to.deep.equal([true, true]);
    expect(codes(r3)[0]).to.equal('NOT_FOUND');
    expect(r3[1]!.ok).to.equal(true);
  });

  it("a full entry's worth of waiting ops goes at once, however many entries are in flight; calls are never split", async () => {
    const log = new FakeLog();
    const p = new BatchProposer(log.propose, () => T0);
    const half = LIMITS.batchOpsMax / 2;
    const group = (base: number) => Array.from({ length: half }, (_, i) => create(base + i));
    const lone = submit(p, [create(100_000)]);
    await settle();
    const calls = [lone, submit(p, group(1)), submit(p, group(1001)), submit(p, group(2001))];
    await settle();
    // The lone first call went alone; then two half groups made a full entry and went without waiting.
    expect(log.proposed.map((e) => e.length)).to.deep.equal([1, LIMITS.batchOpsMax]);
    expect(log.inFlight).to.equal(2);
    log.answer();
    await settle();
    expect(log.proposed.map((e) => e.length), 'the rest waits while an entry is in flight').to.deep.equal([1, LIMITS.batchOpsMax]);
    log.answer();
    await settle();
    expect(log.proposed.map((e) => e.length)).to.deep.equal([1, LIMITS.batchOpsMax, half]);
    log.answer();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.length)).to.deep.equal([1, half, half, half]);
    expect(results.flat().every((r) => r.ok)).to.equal(true);
  });

  it('a failed proposal fails every call it carried; the calls behind it still go', async () => {
    const log = new FakeLog();
    const p = new BatchProposer(log.propose, () => T0);
    const a = submit(p, [create(1)]).catch((e: unknown) => e);
    await settle();
    const b = submit(p, [create(2)]);
    const err = new DfsError('NOT_LEADER', 'lost leadership');
    log.fail(err);
    expect(await a).to.equal(err);
    await settle();
    log.answer();
    expect((await b)[0]!.ok).to.equal(true);
  });

  it('refuses a call that cannot fit in one entry with TOO_LARGE', async () => {
    const p = new BatchProposer(new FakeLog().propose, () => T0);
    const tooMany = Array.from({ length: LIMITS.batchOpsMax + 1 }, (_, i) => create(i + 1));
    const err = await submit(p, tooMany).catch((e: unknown) => e);
    expect((err as DfsError).code).to.equal('TOO_LARGE');
    const tooBig = await p.submit(new Uint8Array(LIMITS.batchEntryMaxBytes), 1).catch((e: unknown) => e);
    expect((tooBig as DfsError).code).to.equal('TOO_LARGE');
  });

  it('applies combined calls exactly as their batches one by one (same results, same state)', async () => {
    const calls = [[create(1), create(2)], [create(3, '/f1'), entries.delete(0, client(4), { path: '/f2' })], [create(5)]];
    const log = new FakeLog();
    const p = new BatchProposer(log.propose, () => T0 + 10);
    const first = submit(p, calls[0]!);
    await settle();
    const rest = calls.slice(1).map((subs) => submit(p, subs));
    log.answer();
    await settle();
    log.answer();
    const combined = [await first, ...(await Promise.all(rest))];

    const alone = initialized();
    const separate = calls.map((subs) => {
      const r = alone.applyEncoded(encodeEntry(entries.batch(T0 + 10, subs)));
      if (!r.ok || r.value.kind !== 'batch') expect.fail('batch failed');
      return r.value.results;
    });
    expect(combined.map(codes)).to.deep.equal(separate.map(codes));
    expect(log.sm.snapshot().equals(alone.snapshot()), 'same state, byte for byte').to.equal(true);
  });
});
