import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * One of the appending processes of append-workload.ts, for a mount without
 * record append (MooseFS):
 *   node posix-appender.js FILE RECORDS SYNC
 * Opens FILE with O_APPEND, says "ready", waits for a line on stdin (so that
 * every appender starts together, process start-up left out), then writes
 * RECORDS records of 1 KiB, each in one write(2) and, when SYNC is 1,
 * followed by fdatasync(2): acknowledged only once the file system holds it,
 * as our record append is.
 */
const RECORD_BYTES = 1024;

const [file, recordsArg, syncArg] = process.argv.slice(2);
const records = Number(recordsArg);
const sync = syncArg === '1';
const fd = openSync(file!, 'a');
const record = Buffer.alloc(RECORD_BYTES, 0x61);
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
lines.once('line', () => {
  for (let i = 0; i < records; i++) {
    writeSync(fd, record);
    if (sync) fdatasyncSync(fd);
  }
  closeSync(fd);
  lines.close();
});
