import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isAlive, terminate } from '../../cli/process-launcher.js';

const BENCH = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

/** The namespaces whose names start with `prefix`. */
function namespaces(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix));
}

/*
 * `npm run bench -- distribution` at a tiny size, as a user runs it: three
 * hosts on a shaped network of namespaces, real master and chunkservers,
 * an 8 MiB file in 2 MiB chunks. It checks the figures are printed and
 * obey physics, that every host read back the exact bytes, and that the
 * run left no namespace behind.
 */
describe('the distribution benchmark', function () {
  this.timeout(120_000);
  let pid: number | undefined;

  afterEach(async () => {
    if (pid !== undefined && isAlive(pid)) await terminate(pid, 10_000);
  });

  it('prints every figure, sane, with every host reading the file back', async () => {
    const child = spawn(process.execPath, [BENCH, 'distribution', '--hosts', '3', '--rate', '50mbit', '--size', '8MiB', '--chunk-size', '2MiB'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pid = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stderr).to.equal(0);

    const figures = new Map<string, { value: number; unit: string }>();
    for (const line of stdout.trim().split('\n')) {
      const m = /^([a-z_]+) (-?[0-9.]+) (\S+)$/.exec(line);
      expect(m, `a figure line: ${line}`).to.not.equal(null);
      figures.set(m![1]!, { value: Number(m![2]), unit: m![3]! });
    }
    const value = (name: string) => {
      expect(figures.has(name), `${name} printed\n${stdout}`).to.equal(true);
      return figures.get(name)!.value;
    };

    // 8 MiB at 50 Mbit/s: nothing can arrive faster than the link.
    expect(value('lower_bound_s')).to.be.closeTo((8 * 1024 * 1024 * 8) / 50e6, 0.01);
    expect(value('ratio_last')).to.be.at.least(1);
    expect(value('ratio_median')).to.be.at.least(1);
    expect(value('last_host_s')).to.be.at.least(value('median_host_s'));
    // Printed with two decimals: compare within that rounding.
    const ratio = value('last_host_s') / value('lower_bound_s');
    expect(value('ratio_last')).to.be.closeTo(ratio, 0.01 * ratio + 0.01);
    expect(value('first_mib_s')).to.be.within(0, value('last_host_s'));
    expect(value('cpu_s_per_gb')).to.be.above(0);
    // Only h0 holds the file at first: every byte leaves it at least once.
    expect(value('origin_upload_ratio')).to.be.at.least(1);
    expect(value('hosts_verified')).to.equal(3);
    expect(value('local_read_pct_min')).to.be.above(90);

    expect(value('append_lower_bound_s')).to.be.closeTo(value('lower_bound_s') / 10, 0.01);
    expect(value('append_ratio_last')).to.be.at.least(1);
    // Both receivers must take in the appended bytes.
    expect(value('append_bytes_moved_ratio')).to.be.at.least(1);
    expect(value('append_hosts_verified')).to.equal(3);
    expect(value('append_local_read_pct_min')).to.be.above(90);

    expect(namespaces(`dd${pid}`), 'namespaces left behind').to.deep.equal([]);
  });
});
