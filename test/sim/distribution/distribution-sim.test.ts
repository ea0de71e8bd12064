import { expect } from 'chai';
import { runDistributionSim, SIM_DEFAULTS, type DistributionSimOptions } from './simulation.js';

const GiB = 1024 ** 3;

function run(options: Partial<DistributionSimOptions>) {
  return runDistributionSim({ ...SIM_DEFAULTS, nodes: 60, fileBytes: GiB, ...options });
}

describe('distribution simulation (the real planner on a fluid network)', function () {
  this.timeout(120_000);

  it('brings every chunk to every member close to F/B, the origin sending each byte once', () => {
    const r = run({ nodes: 200, fileBytes: 2 * GiB });
    expect(r.incomplete).to.equal(0);
    expect(r.plannerAgrees).to.equal(true);
    expect(r.lastS / r.lowerBoundS).to.be.below(1.2);
    expect(r.originBytes / (2 * GiB)).to.be.within(0.999, 1.001);
    expect(r.sameRackBytesRatio).to.be.above(0.8);
  });

  it('finishes every live member, joiners included, through crashes and joins, on every seed', () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const r = run({ seed, failures: 0.05, joins: 3 });
      const ratio = r.lastS / r.lowerBoundS;
      const joinRatio = r.joinLastS / r.lowerBoundS;
      if (r.incomplete > 0 || !r.plannerAgrees || !(ratio < 1.8) || !(joinRatio < 2.5) || r.failures !== 3 || r.joins !== 3) {
        failures.push(`seed ${seed}: incomplete ${r.incomplete}, planner agrees ${r.plannerAgrees}, ratio ${ratio.toFixed(2)}, joiners ${joinRatio.toFixed(2)}`);
      }
    }
    expect(failures).to.deep.equal([]);
  });

  it('is deterministic: a seed replays to the same run', () => {
    const a = run({ seed: 9, failures: 0.05, joins: 2 });
    const b = run({ seed: 9, failures: 0.05, joins: 2 });
    expect([b.lastS, b.medianS, b.joinLastS, b.originBytes, b.tasksSent, b.heartbeats]).to.deep.equal([a.lastS, a.medianS, a.joinLastS, a.originBytes, a.tasksSent, a.heartbeats]);
  });
});
