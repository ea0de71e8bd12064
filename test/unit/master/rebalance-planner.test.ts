import { expect } from 'chai';
import { chunkHandle, serverId, type ServerId } from '../../../common/ids.js';
import { keepsSpread, planRebalance, type BalanceChunk, type BalanceServer } from '../../../master/rebalance-planner.js';

const GiB = 1024 ** 3;
const CHUNK = 64 * 1024 * 1024;

function server(id: string, usedBytes: number, capacityBytes = 4 * GiB, zone = 'z', rack = 'r'): BalanceServer {
  return { id: serverId(id), zone, rack, capacityBytes, usedBytes };
}

/** `count` full chunks, each on the servers `on` (round robin over them by replica count). */
function chunksOn(servers: readonly BalanceServer[], count: number, replicas: number, firstHandle = 1): BalanceChunk[] {
  return Array.from({ length: count }, (_, i) => ({
    handle: chunkHandle(firstHandle + i),
    bytes: CHUNK,
    replicas: Array.from({ length: replicas }, (_, r) => servers[(i + r) % servers.length]!),
  }));
}

function applyPlan(servers: readonly BalanceServer[], moves: { from: ServerId; to: ServerId; bytes: number }[]): Map<ServerId, number> {
  const used = new Map(servers.map((s) => [s.id, s.usedBytes]));
  for (const m of moves) {
    used.set(m.from, used.get(m.from)! - m.bytes);
    used.set(m.to, used.get(m.to)! + m.bytes);
  }
  return used;
}

describe('rebalance planner', () => {
  it('brings three full and three empty servers within the threshold of the mean, never two replicas on one server', () => {
    const full = ['a', 'b', 'c'].map((id) => server(id, 32 * CHUNK));
    const empty = ['d', 'e', 'f'].map((id) => server(id, 0));
    const servers = [...full, ...empty];
    const chunks = chunksOn(full, 32, 3);
    const plan = planRebalance(servers, chunks, { thresholdPct: 10, highWaterMark: 0.9, maxMoves: 1000 });
    const used = applyPlan(servers, plan.moves);
    const mean = (96 * CHUNK) / (6 * 4 * GiB);
    for (const s of servers) expect(Math.abs(used.get(s.id)! / s.capacityBytes - mean)).to.be.at.most(0.1);
    expect(plan.maxDeviationAfterPct).to.be.at.most(10);
    expect(plan.maxDeviationPct).to.be.closeTo(25, 0.01);
    const where = new Map(chunks.map((c) => [c.handle, c.replicas.map((r) => r.id)]));
    for (const m of plan.moves) {
      const holders = where.get(m.handle)!;
      expect(holders).to.include(m.from);
      expect(holders).not.to.include(m.to);
      where.set(m.handle, holders.map((h) => (h === m.from ? m.to : h)));
    }
    expect(new Set(plan.moves.map((m) => m.handle)).size).to.equal(plan.moves.length);
    // The caller's chunks are left as given.
    expect(chunks[0]!.replicas.map((r) => r.id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('plans nothing when every server is within the threshold', () => {
    const servers = [server('a', 10 * CHUNK), server('b', 12 * CHUNK), server('c', 14 * CHUNK)];
    const plan = planRebalance(servers, chunksOn(servers, 12, 3), { thresholdPct: 10, highWaterMark: 0.9, maxMoves: 1000 });
    expect(plan.moves).to.deep.equal([]);
  });

  it('never fills a target above the high-water mark', () => {
    // Tiny targets: the mean band would take them to 50%, the high-water mark allows 25%.
    const servers = [server('a', 60 * CHUNK, 64 * CHUNK), server('b', 0, 8 * CHUNK)];
    const chunks = chunksOn([servers[0]!], 60, 1);
    const plan = planRebalance(servers, chunks, { thresholdPct: 5, highWaterMark: 0.25, maxMoves: 1000 });
    const used = applyPlan(servers, plan.moves);
    expect(used.get(serverId('b'))!).to.be.at.most(2 * CHUNK);
    expect(plan.moves.length).to.equal(2);
  });

  it('never moves a replica into a rack (or zone) the chunk would then share', () => {
    const a = server('a', 30 * CHUNK, 4 * GiB, 'z1', 'r1');
    const b = server('b', 30 * CHUNK, 4 * GiB, 'z1', 'r2');
    const sameRackAsB = server('c', 0, 4 * GiB, 'z1', 'r2');
    const plan = planRebalance([a, b, sameRackAsB], chunksOn([a, b], 30, 2), { thresholdPct: 5, highWaterMark: 0.9, maxMoves: 1000 });
    // A replica on a may not go to c: the chunk would have both replicas in r2. One on b may (it stays in r2).
    expect(plan.moves.length).to.be.greaterThan(0);
    for (const m of plan.moves) expect([m.from, m.to]).to.deep.equal(['b', 'c']);
    const zoned = [server('a', 30 * CHUNK, 4 * GiB, 'z1', 'r1'), server('b', 30 * CHUNK, 4 * GiB, 'z2', 'r1')];
    const sameZoneAsA = server('c', 0, 4 * GiB, 'z1', 'r7');
    const plan2 = planRebalance([...zoned, sameZoneAsA], chunksOn(zoned, 30, 2), { thresholdPct: 5, highWaterMark: 0.9, maxMoves: 1000 });
    for (const m of plan2.moves) expect([m.from, m.to]).to.deep.equal(['a', 'c']);
  });

  it('keepsSpread compares zones and racks before and after', () => {
    const r = (id: string, zone: string, rack: string) => ({ id: serverId(id), zone, rack });
    const replicas = [r('a', 'z1', 'r1'), r('b', 'z2', 'r1')];
    expect(keepsSpread(replicas, serverId('a'), r('c', 'z1', 'r9'))).to.equal(true);
    expect(keepsSpread(replicas, serverId('a'), r('c', 'z2', 'r9'))).to.equal(false);
    expect(keepsSpread([r('a', 'z', 'r1'), r('b', 'z', 'r2')], serverId('a'), r('c', 'z', 'r2'))).to.equal(false);
  });

  it('stops at maxMoves and is deterministic', () => {
    const servers = [server('a', 40 * CHUNK), server('b', 0)];
    const chunks = chunksOn([servers[0]!], 40, 1);
    const one = planRebalance(servers, chunks, { thresholdPct: 1, highWaterMark: 0.9, maxMoves: 5 });
    expect(one.moves).to.have.length(5);
    expect(planRebalance(servers, chunks, { thresholdPct: 1, highWaterMark: 0.9, maxMoves: 5 })).to.deep.equal(one);
  });
});
