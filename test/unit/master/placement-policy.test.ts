import { expect } from 'chai';
import { choosePlacement, chooseSource, type PlacementCandidate } from '../../../master/placement-policy.js';
import { serverId } from '../../../common/ids.js';

const GiB = 1024 ** 3;

function server(id: string, zone: string, rack: string, usedFraction = 0, activity = 0): PlacementCandidate {
  return { id: serverId(id), zone, rack, capacityBytes: 100 * GiB, usedBytes: usedFraction * 100 * GiB, activity };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('placement policy', () => {
  const noExisting = { existing: [], exclude: new Set<never>(), minFreeBytes: 64 * 1024 * 1024, highWaterMark: 1 };

  it('never places two replicas on one node', () => {
    const servers = [server('a', 'z', 'r'), server('b', 'z', 'r'), server('c', 'z', 'r')];
    for (let seed = 0; seed < 50; seed++) {
      const chosen = choosePlacement(servers, 3, { ...noExisting, random: seeded(seed) });
      expect(new Set(chosen.map((c) => c.id)).size).to.equal(3);
    }
  });

  it('returns fewer than asked when there are fewer servers, never a duplicate', () => {
    const chosen = choosePlacement([server('a', 'z', 'r'), server('b', 'z', 'r')], 3, { ...noExisting, random: seeded(1) });
    expect(chosen.map((c) => c.id).sort()).to.deep.equal(['a', 'b']);
  });

  it('spreads replicas over zones before racks, and racks before nodes', () => {
    const servers = [
      server('z1r1a', 'z1', 'r1'), server('z1r1b', 'z1', 'r1'), server('z1r2a', 'z1', 'r2'),
      server('z2r1a', 'z2', 'r1'), server('z2r1b', 'z2', 'r1'), server('z3r1a', 'z3', 'r1'),
    ];
    for (let seed = 0; seed < 50; seed++) {
      const chosen = choosePlacement(servers, 3, { ...noExisting, random: seeded(seed) });
      expect(new Set(chosen.map((c) => c.zone)).size, `seed ${seed}`).to.equal(3);
    }
    const oneZone = [server('r1a', 'z', 'r1'), server('r1b', 'z', 'r1'), server('r2a', 'z', 'r2'), server('r2b', 'z', 'r2')];
    for (let seed = 0; seed < 50; seed++) {
      const chosen = choosePlacement(oneZone, 2, { ...noExisting, random: seeded(seed) });
      expect(new Set(chosen.map((c) => c.rack)).size, `seed ${seed}`).to.equal(2);
    }
  });

  it('counts the zones of existing replicas when adding one', () => {
    const servers = [server('a', 'z1', 'r'), server('b', 'z1', 'r2'), server('c', 'z2', 'r')];
    const chosen = choosePlacement(servers, 1, {
      existing: [server('x', 'z1', 'r9')],
      exclude: new Set([serverId('x')]),
      minFreeBytes: 0,
      highWaterMark: 1,
      random: seeded(3),
    });
    expect(chosen[0]!.id).to.equal('c');
  });

  it('prefers the emptier of otherwise equal servers and skips full ones and excluded ones', () => {
    const servers = [server('full', 'z', 'r', 0.9999999), server('busy', 'z', 'r', 0.5), server('empty', 'z', 'r', 0.1), server('gone', 'z', 'r')];
    const chosen = choosePlacement(servers, 1, { existing: [], exclude: new Set([serverId('gone')]), minFreeBytes: GiB, highWaterMark: 1, random: seeded(4) });
    expect(chosen.map((c) => c.id)).to.deep.equal(['empty']);
  });

  it('spreads new chunks over equal servers rather than piling on one', () => {
    const servers = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => server(id, 'z', 'r'));
    const random = seeded(9);
    const counts = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      for (const c of choosePlacement(servers, 3, { ...noExisting, random })) counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
    }
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) expect(counts.get(id)).to.be.within(200, 400);
  });

  it('copies from a source in the target rack, then zone, then the least busy', () => {
    const target = server('t', 'z1', 'r1');
    const sources = [server('far', 'z2', 'r1'), server('zone', 'z1', 'r2'), server('rack', 'z1', 'r1', 0, 5)];
    expect(chooseSource(sources, target, seeded(1))!.id).to.equal('rack');
    expect(chooseSource(sources.slice(0, 2), target, seeded(1))!.id).to.equal('zone');
    expect(chooseSource([server('idle', 'z9', 'r'), server('busy', 'z9', 'r', 0, 3)], target, seeded(1))!.id).to.equal('idle');
  });
});
