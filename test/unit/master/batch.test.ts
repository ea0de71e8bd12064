import { expect } from 'chai';

import { LIMITS } from '../../../common/limits.js';
import { decodeEntry, encodeEntry, entries, type LogEntry } from '../../../master/log-entry.js';
import { type ApplyResult, MasterStateMachine } from '../../../master/state-machine.js';
import { attrOf, CHUNK, expectError, Harness, ok, T0, valueOf } from './harness.js';

const client = (seq: number | string, clientId = 'client-a') => ({ clientId, seq });

/** The sub-results of a batch entry that applied as a whole. */
function resultsOf(result: ApplyResult): readonly ApplyResult[] {
  const value = valueOf(result);
  if (value.kind !== 'batch') expect.fail(`expected a batch result, got ${value.kind}`);
  return value.results;
}

/** A batch of `subEntries` applied at the harness's next time. */
function batch(h: Harness, subEntries: LogEntry[]): ApplyResult {
  return h.apply((t) => entries.batch(t, subEntries));
}

/** Results with what differs by construction between two runs (nothing) made comparable: errors by code and message. */
function comparable(results: readonly ApplyResult[]): unknown[] {
  return results.map((r) => (r.ok ? { ok: true, value: r.value, duplicate: r.duplicate } : { ok: false, code: r.error.code, message: r.error.message, duplicate: r.duplicate }));
}

describe('master state machine: Batch', () => {
  it('applies its entries in order exactly as if each were an entry of its own at the batch time: same results, same state bytes', () => {
    const ops: LogEntry[] = [
      entries.mkdir(0, client(1), { path: '/d', mode: 0o755 }),
      entries.create(0, client(2), { path: '/d/a', mode: 0o644, exclusive: true }),
      entries.create(0, client(3), { path: '/d/a', mode: 0o644, exclusive: true }), // ALREADY_EXISTS
      entries.mkdir(0, client(4), { path: '/x/y', mode: 0o755 }), // NOT_FOUND
      entries.rename(0, client(5), { source: '/d/a', destination: '/d/b' }),
      entries.setAttr(0, client(6), { path: '/d/b', mode: 0o600, uid: 7 }),
      entries.create(0, undefined, { path: '/d/c', mode: 0o644 }), // no request id: never deduplicated
      entries.delete(0, client(7), { path: '/d/c' }),
      entries.noop(0, client(8)),
    ];
    const batched = new Harness().init();
    const time = batched.time;
    const together = resultsOf(batch(batched, ops));

    const alone = new Harness().init();
    alone.roundTrip = false;
    const one = ops.map((op) => alone.sm.applyEncoded(encodeEntry({ ...op, timeUs: time })));

    expect(comparable(together)).to.deep.equal(comparable(one));
    expect(batched.sm.snapshot().equals(alone.sm.snapshot()), 'same state, byte for byte').to.equal(true);
    expect(together.map((r) => (r.ok ? 'ok' : r.error.code))).to.deep.equal([
      'ok', 'ok', 'ALREADY_EXISTS', 'NOT_FOUND', 'ok', 'ok', 'ok', 'ok', 'ok',
    ]);
  });

  it('a failed entry does not stop the ones after it, and changes nothing but its session', () => {
    const h = new Harness().init();
    const results = resultsOf(
      batch(h, [
        entries.create(0, client(1), { path: '/a' }),
        entries.create(0, client(2), { path: '/missing/f' }),
        entries.create(0, client(3), { path: '/a', exclusive: true }),
        entries.create(0, client(4), { path: '/b' }),
      ]),
    );
    ok(results[0]!);
    expectError(results[1]!, 'NOT_FOUND');
    expectError(results[2]!, 'ALREADY_EXISTS');
    ok(results[3]!);
    expect(h.sm.counts()).to.include({ files: 2, sessions: 1 });
    // The failures are remembered like any other: their retries fail alike, as duplicates.
    const again = h.create('/missing/f', {}, client(2));
    expectError(again, 'NOT_FOUND');
    expect(again.duplicate).to.equal(true);
  });

  it('each entry is deduplicated exactly like a lone entry: against lone entries, and lone retries against it', () => {
    const h = new Harness().init();
    const lone = h.create('/a', {}, client(1));
    const results = resultsOf(
      batch(h, [
        entries.create(0, client(1), { path: '/a' }), // applied alone before: a duplicate
        entries.create(0, client(2), { path: '/b' }),
      ]),
    );
    expect(results[0]!.duplicate).to.equal(true);
    expect(attrOf(results[0]!)).to.deep.equal(attrOf(lone));
    expect(results[1]!.duplicate).to.equal(false);
    const retried = h.unchanged(() => h.create('/b', {}, client(2)));
    expect(retried.duplicate).to.equal(true);
    expect(attrOf(retried)).to.deep.equal(attrOf(results[1]!));
  });

  it('a duplicate batch replays identical results, every one marked duplicate, and changes nothing', () => {
    const h = new Harness().init();
    const ops = [
      entries.mkdir(0, client(1), { path: '/d', mode: 0o755 }),
      entries.create(0, client(2), { path: '/d/f', exclusive: true }),
      entries.create(0, client(3), { path: '/d/f', exclusive: true }),
      entries.delete(0, client(4), { path: '/nothing' }),
    ];
    const first = resultsOf(batch(h, ops));
    const before = h.sm.snapshot();
    const second = resultsOf(batch(h, ops));
    expect(h.sm.snapshot().equals(before), 'a replayed batch changed the state').to.equal(true);
    expect(second.every((r) => r.duplicate)).to.equal(true);
    expect(comparable(second).map((r) => ({ ...(r as object), duplicate: false }))).to.deep.equal(comparable(first));
  });

  it('a retried batch of LIMITS.batchOpsMax entries from one client is still recognised whole by its session', () => {
    const h = new Harness().init();
    h.roundTrip = false;
    ok(h.mkdir('/d'));
    const ops = Array.from({ length: LIMITS.batchOpsMax }, (_, i) => entries.create(0, client(i + 1), { path: `/d/f${i}`, exclusive: true }));
    // Another batch's worth of the same client's later requests applied in between.
    const later = Array.from({ length: LIMITS.batchOpsMax }, (_, i) =>
      entries.create(0, client(LIMITS.batchOpsMax + i + 1), { path: `/d/g${i}`, exclusive: true }),
    );
    expect(resultsOf(batch(h, ops)).every((r) => r.ok)).to.equal(true);
    expect(resultsOf(batch(h, later)).every((r) => r.ok)).to.equal(true);
    const retried = resultsOf(batch(h, ops));
    expect(retried.every((r) => r.ok && r.duplicate), 'every op of the retried batch is a duplicate').to.equal(true);
    expect(h.sm.counts().files).to.equal(2 * LIMITS.batchOpsMax);
  });

  it('the batch time is every entry time; an entry of its own carries none', () => {
    const h = new Harness().init();
    const sub = entries.batch(T0 + 500, [entries.create(999, client(1), { path: '/f' })]);
    expect(sub.batch?.entries?.[0]?.timeUs).to.equal(undefined);
    const result = resultsOf(h.apply(() => sub))[0]!;
    expect(attrOf(result).mtimeUs).to.equal(T0 + 500);
    // Even if a sub-entry carries a time of its own, the batch's applies.
    const carrying: LogEntry = { timeUs: String(T0 + 600), batch: { entries: [{ ...entries.create(0, client(2), { path: '/g' }), timeUs: '5' }] } };
    expect(attrOf(resultsOf(h.apply(() => carrying))[0]!).mtimeUs).to.equal(T0 + 600);
  });

  it('more than LIMITS.batchOpsMax entries is TOO_LARGE for the whole batch: nothing applies, no session changes', () => {
    const h = new Harness().init();
    const ops = Array.from({ length: LIMITS.batchOpsMax + 1 }, (_, i) => entries.create(0, client(i + 1), { path: `/f${i}` }));
    h.fails('TOO_LARGE', () => batch(h, ops));
    expect(h.sm.counts()).to.include({ files: 0, sessions: 0 });
    ok(resultsOf(batch(h, ops.slice(0, LIMITS.batchOpsMax)))[0]!);
  });

  it('a batch with a request id of its own, or a bad time, is INVALID_ARGUMENT whole', () => {
    const h = new Harness().init();
    h.fails('INVALID_ARGUMENT', () => h.apply((t) => ({ ...entries.batch(t, [entries.create(0, client(1), { path: '/f' })]), requestId: { clientId: 'x', seq: '1' } })));
    h.fails('INVALID_ARGUMENT', () => h.apply(() => entries.batch('9223372036854775807', [entries.create(0, client(1), { path: '/f' })])));
    expect(h.sm.counts()).to.include({ files: 0, sessions: 0 });
  });

  it('an entry a batch may not carry fails alone, unrecorded; the others apply', () => {
    const h = new Harness().init();
    const inode = h.file('/f');
    const handle = (valueOf(h.allocate(inode, 0)) as { chunk: { handle: number } }).chunk.handle;
    const nested = entries.batch(0, [entries.create(0, client(9), { path: '/nested' })]);
    const results = resultsOf(
      batch(h, [
        entries.create(0, client(1), { path: '/a' }),
        entries.bumpVersion(0, client(2), { handle, version: 5 }),
        entries.initCluster(0, client(3), { chunkSizeBytes: CHUNK, defaultReplication: 1, clusterId: 'again' }),
        entries.purgeTrash(0, client(4), { deletedBeforeUs: 0, sessionsIdleBeforeUs: 0 }),
        nested,
        { requestId: client(5) } as LogEntry, // no operation at all
        entries.create(0, client(6), { path: '/b' }),
      ]),
    );
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).to.deep.equal([
      'ok', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'ok',
    ]);
    expect(h.sm.chunk(handle as never)?.version).to.equal(0);
    // Not recorded: the same request alone applies as new.
    const alone = h.bump(handle, 5, client(2));
    expect(alone.duplicate).to.equal(false);
    ok(alone);
  });

  it('before InitCluster every entry fails UNAVAILABLE, unrecorded; the same seqs apply once the cluster is up', () => {
    const h = new Harness();
    const ops = [entries.mkdir(0, client(1), { path: '/d' }), entries.create(0, client(2), { path: '/f' })];
    const before = h.sm.snapshot();
    const results = resultsOf(batch(h, ops));
    for (const r of results) expectError(r, 'UNAVAILABLE');
    expect(h.sm.snapshot().equals(before)).to.equal(true);
    h.init();
    expect(resultsOf(batch(h, ops)).map((r) => r.ok && !r.duplicate)).to.deep.equal([true, true]);
  });

  it('an empty batch applies as nothing', () => {
    const h = new Harness().init();
    expect(h.unchanged(() => batch(h, []))).to.deep.include({ ok: true, value: { kind: 'batch', results: [] } });
  });

  it('64-bit fields decode as numbers without rounding: a seq at 2^53 - 1 applies, one past it is refused', () => {
    const h = new Harness().init();
    const decoded = decodeEntry(encodeEntry(entries.create(1, client('9007199254740991'), { path: '/f' })));
    expect(decoded.requestId?.seq).to.equal(9007199254740991);
    const results = resultsOf(
      batch(h, [
        entries.create(0, client('9007199254740991'), { path: '/a' }),
        entries.create(0, client('9007199254740993'), { path: '/b' }),
        entries.create(0, client('18446744073709551615'), { path: '/c' }),
      ]),
    );
    ok(results[0]!);
    expectError(results[1]!, 'INVALID_ARGUMENT');
    expectError(results[2]!, 'INVALID_ARGUMENT');
    expect(() => h.sm.stat('/b')).to.throw();
    expect(h.sm.counts()).to.include({ files: 1, sessions: 1 });
  });

  it('survives a snapshot round trip mid-way: the restored machine deduplicates the rest of a retried batch alike', () => {
    const h = new Harness().init();
    const ops = [entries.create(0, client(1), { path: '/a' }), entries.create(0, client(2), { path: '/b' })];
    const first = resultsOf(batch(h, ops));
    const restored = MasterStateMachine.restore(h.sm.snapshot());
    const replay = restored.applyEncoded(encodeEntry(entries.batch(h.time, ops)));
    expect(comparable(resultsOf(replay)).map((r) => ({ ...(r as object), duplicate: false }))).to.deep.equal(comparable(first));
    expect(restored.snapshot().equals(h.sm.snapshot())).to.equal(true);
  });
});
