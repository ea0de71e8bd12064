import { expect } from 'chai';
import { formatResult, Simulation, type SimResult } from './simulation.js';
import type { SimBug } from './sim-node.js';

const SEEDS = 1000;

function firstFailure(bug: SimBug, seeds: number): SimResult | undefined {
  for (let seed = 1; seed <= seeds; seed++) {
    const result = new Simulation({ seed, bug }).run();
    if (!result.ok) return result;
  }
  return undefined;
}

describe('deterministic simulation', function () {
  this.timeout(240_000);

  it(`holds election safety, log matching, leader completeness, state machine safety, liveness after healing and linearizable reads over ${SEEDS} seeds (3, 5 and 7 nodes; read leases on even seeds)`, () => {
    const failures: string[] = [];
    let events = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = new Simulation({ seed }).run();
      events += result.stats.events;
      if (!result.ok) failures.push(`${formatResult(result)}\n  ${result.failure}\n  replay: SEED=${seed} TRACE=1 npm run sim`);
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(events).to.be.above(SEEDS * 1000);
  });

  it('is deterministic: a seed replays to the same run', () => {
    const a = new Simulation({ seed: 4242, trace: true }).run();
    const b = new Simulation({ seed: 4242, trace: true }).run();
    expect(b.stats).to.deep.equal(a.stats);
    expect(b.trace).to.deep.equal(a.trace);
  });

  describe('catches deliberate defects', () => {
    it('a node that votes twice in a term (rejected votes turned into grants)', () => {
      const failed = firstFailure('doubleVote', 50);
      expect(failed, 'no seed caught the defect').to.not.equal(undefined);
      expect(failed!.failure).to.match(/election safety|leader completeness|committed entry changed|state machine safety/);
    });

    it('a disk that acknowledges entries before they are durable', () => {
      const failed = firstFailure('unsyncedEntries', 80);
      expect(failed, 'no seed caught the defect').to.not.equal(undefined);
    });

    it('a read lease that outlasts the followers\' refusal to vote', () => {
      const failed = firstFailure('leaseTooLong', 200);
      expect(failed, 'no seed caught the defect').to.not.equal(undefined);
      expect(failed!.failure).to.match(/linearizability/);
    });

    it('reads served from local state without ReadIndex', () => {
      const failed = firstFailure('staleRead', 20);
      expect(failed, 'no seed caught the defect').to.not.equal(undefined);
      expect(failed!.failure).to.match(/linearizability/);
    });
  });
});
