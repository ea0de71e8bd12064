import { expect } from 'chai';
import { completeServers, parseBittorrentResults, parseRate, phaseFigures } from '../../../bench/distribution-figures.js';

describe('distribution benchmark figures', () => {
  it('a server holds the file only when it is listed for every chunk', () => {
    const chunks = [
      { index: 0, replicas: ['a', 'b', 'c'] },
      { index: 1, replicas: ['a', 'c'] },
      { index: 2, replicas: ['c', 'a', 'b'] },
    ];
    expect(completeServers(chunks, 3).sort()).to.deep.equal(['a', 'c']);
    // A chunk GetChunks did not return (not allocated yet) means nobody holds the whole file.
    expect(completeServers(chunks, 4)).to.deep.equal([]);
  });

  it('reads rates as tc does, with SI prefixes', () => {
    expect(parseRate('100mbit')).to.equal(100e6);
    expect(parseRate('1gbit')).to.equal(1e9);
    expect(parseRate('500kbit')).to.equal(500e3);
    expect(() => parseRate('100Mbps')).to.throw(/tc's syntax/);
  });

  it('measures each host against bytes over the per-host bandwidth', () => {
    // 256 MiB at 100 Mbit/s: 21.47 s at best.
    const f = phaseFigures([30, 25, 40], 256 * 1024 * 1024, 100e6);
    expect(f.lowerBoundS).to.be.closeTo(21.47, 0.01);
    expect(f.lastHostS).to.equal(40);
    expect(f.medianHostS).to.equal(30);
    expect(f.ratioLast).to.be.closeTo(40 / 21.47, 0.01);
  });

  it('takes the BitTorrent runs from the baseline script\'s results file', () => {
    const header = 'date\tmode\tN\trate\tbytes\trun\tlast_s\tmedian_s\tfirst_s\tlb_s\tratio_last\tratio_median\tbad\tmissing\tcpu_mean\tcpu_p90\tcpu_max\tcpu_sat_pct\tours_cpu_s\tother_cpu_s\tsoftirq_s\textra';
    const bt = '2026-01-01T00:00:00\tbt\t8\t100mbit\t268435456\t1\t31.95\t30.00\t28.1\t21.47\t1.488\t1.397\t0\t0\t70\t90\t99\t10\t13.3\t40\t1\tseed h0 uploaded 1.31x the file (htb bytes incl. headers)';
    const http = bt.replace('\tbt\t', '\thttp\t').replace(/\tseed[^\t]*$/, '\t');
    const [run, ...rest] = parseBittorrentResults([header, bt, http].join('\n') + '\n');
    expect(rest).to.deep.equal([]);
    expect(run).to.deep.equal({
      lastS: 31.95,
      medianS: 30,
      lowerBoundS: 21.47,
      ratioLast: 1.488,
      ratioMedian: 1.397,
      originUploadRatio: 1.31,
      badCopies: 0,
      missingHosts: 0,
      clientsCpuS: 13.3,
    });
  });
});
