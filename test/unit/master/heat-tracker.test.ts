import { expect } from 'chai';
import { chunkHandle } from '../../../common/ids.js';
import { HeatTracker } from '../../../master/heat-tracker.js';

const h = chunkHandle(7);

describe('heat tracker', () => {
  it('adds one replica per threshold of read rate, up to the cap', () => {
    const heat = new HeatTracker({ hotReadsPerS: 100, hotReplicasMax: 6, halfLifeMs: 20_000 });
    expect(heat.goal(h, 0, 3)).to.equal(3);
    // 20 s (one half-life) at 250 reads/s: the decayed rate is half way to 250.
    for (let t = 1000; t <= 20_000; t += 1000) heat.record(h, 250, t, 3);
    const rate = heat.rate(h, 20_000);
    expect(rate).to.be.within(100, 160);
    expect(heat.goal(h, 20_000, 3)).to.equal(3 + Math.floor(rate / 100));
    for (let t = 21_000; t <= 60_000; t += 1000) heat.record(h, 5_000, t, 3);
    expect(heat.goal(h, 60_000, 3)).to.equal(6);
  });

  it('says when the goal changes, and lets a chunk cool back to its goal', () => {
    const heat = new HeatTracker({ hotReadsPerS: 100, hotReplicasMax: 10, halfLifeMs: 20_000 });
    let changed = false;
    for (let t = 1000; t <= 30_000; t += 1000) changed = heat.record(h, 400, t, 3) || changed;
    expect(changed).to.equal(true);
    expect(heat.hot(30_000)).to.deep.equal([h]);
    // Two minutes without reads: six half-lives.
    expect(heat.goal(h, 150_000, 3)).to.equal(3);
    expect(heat.cool(150_000)).to.deep.equal([h]);
    expect(heat.cool(300_000)).to.deep.equal([h]);
    expect(heat.size()).to.equal(0);
  });

  it('is off at a threshold of 0', () => {
    const heat = new HeatTracker({ hotReadsPerS: 0, hotReplicasMax: 10, halfLifeMs: 20_000 });
    expect(heat.record(h, 1e6, 1000, 3)).to.equal(false);
    expect(heat.goal(h, 1000, 3)).to.equal(3);
  });
});
