import { Command } from 'commander';
import { parseSize } from '../cli/size.js';
import { runCoreBench } from './core.js';

/** `npm run bench -- <name> [options]`: one line per figure, `<name> <value> <unit>`. */
const program = new Command('bench').description('benchmarks that print machine-readable figures');

const print = (name: string, value: number, unit: string) => {
  const shown = Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
  process.stdout.write(`${name} ${shown} ${unit}\n`);
};

program
  .command('core')
  .description('a local cluster (1 master, 3 chunkservers, 3 replicas): sequential write/read, appends, metadata')
  .option('--size <size>', 'bytes written and read per run', '1GiB')
  .option('--chunk-size <size>', 'chunk size', '64MiB')
  .option('--runs <n>', 'runs of the sequential write/read (medians reported)', '3')
  .option('--appenders <n>', 'concurrent appending clients', '8')
  .option('--appends <n>', 'records per appending client', '250')
  .option('--metadata-ops <n>', 'creates, then stats', '5000')
  .option('--metadata-concurrency <n>', 'metadata requests in flight', '16')
  .option('--node-args <args>', 'extra node arguments for every server, e.g. "--cpu-prof --cpu-prof-dir=prof"', '')
  .action(async (opts: Record<string, string>) => {
    await runCoreBench({
      fileBytes: parseSize(opts.size!),
      chunkSizeBytes: parseSize(opts.chunkSize!),
      runs: Number(opts.runs),
      appenders: Number(opts.appenders),
      appendsPerClient: Number(opts.appends),
      metadataOps: Number(opts.metadataOps),
      metadataConcurrency: Number(opts.metadataConcurrency),
      nodeArgs: opts.nodeArgs!.split(' ').filter(Boolean),
      print,
    });
  });

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
