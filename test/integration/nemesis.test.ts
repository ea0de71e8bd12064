import { expect } from 'chai';
import { formatFailures, formatReport, passed } from '../nemesis/report.js';
import { runNemesis } from '../nemesis/run.js';

/**
 * A short nemesis run per seed (see test/nemesis/OVERVIEW.md): 8 hosts,
 * every fault kind drawn from, the full checker. Fixed seeds, so a failure
 * here replays with `npm run nemesis -- --seed S --duration 30`; set
 * NEMESIS_SEEDS=1,2,3 to run others.
 */
const SEEDS = (process.env.NEMESIS_SEEDS ?? '7,11').split(',').map(Number);
const DURATION_S = 30;

describe('nemesis: nothing acknowledged is lost, duplicated or corrupted while faults are injected (8 hosts)', function () {
  this.timeout(300_000);

  for (const seed of SEEDS) {
    it(`seed ${seed}, ${DURATION_S} s of faults`, async () => {
      const result = await runNemesis({ seed, durationS: DURATION_S, keepOnFailure: true, log: (line) => console.log(`      ${line}`) });
      const figures = new Map(result.report.figures.map((f) => [f.name, f.value]));
      console.log(formatReport(result.report).replace(/^/gm, '        '));
      const why = `${formatFailures(result.report)}\n(replay: npm run nemesis -- --seed ${seed} --duration ${DURATION_S}; details ${result.artifact ?? 'none'})`;
      expect(figures.get('lost'), why).to.equal(0);
      expect(figures.get('duplicated'), why).to.equal(0);
      expect(figures.get('corrupt_reads'), why).to.equal(0);
      expect(figures.get('faults_injected'), 'faults injected').to.be.greaterThan(2);
      expect(passed(result.report), why).to.equal(true);
    });
  }
});
