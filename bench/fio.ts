import { MIB, run } from './mount-workloads.js';

/** What fio's JSON output holds that we read. */
interface FioOutput {
  jobs: { read: { iops: number } }[];
}

/** fio comes from Debian: installed here if missing (as moosefs.sh installs its own packages), so the benchmark runs on a fresh machine. */
export async function ensureFio(): Promise<void> {
  try {
    await run('fio', ['--version']);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', '--no-install-recommends', 'fio'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 1 << 24,
  });
}

/**
 * Random 4 KiB reads of `file` (its first `bytes`) for `seconds`, one job,
 * synchronous reads through the page cache (--direct=0, what an ordinary
 * program does); fio invalidates the file's cached pages before it starts,
 * and the caller drops the caches too. Read IOPS.
 */
export async function fioRandomReadIops(file: string, bytes: number, seconds: number): Promise<number> {
  const { stdout } = await run(
    'fio',
    [
      '--name=randread', `--filename=${file}`, '--rw=randread', '--bs=4k', `--size=${Math.floor(bytes / MIB)}M`,
      '--ioengine=psync', '--direct=0', '--numjobs=1', '--invalidate=1', '--norandommap',
      `--runtime=${seconds}`, '--time_based', '--output-format=json',
    ],
    { maxBuffer: 1 << 24 },
  );
  // fio may print notes before its JSON.
  const parsed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as FioOutput;
  const iops = parsed.jobs[0]?.read.iops;
  if (iops === undefined || !(iops > 0)) throw new Error(`fio read nothing from ${file}`);
  return iops;
}
