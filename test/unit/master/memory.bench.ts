/**
 * Memory per file of the state machine. Not a mocha test (no .test suffix):
 *   node --expose-gc dist/test/unit/master/memory.bench.js [files] [chunksPerFile]
 * Reports the V8 heap delta and the typed-array buffers (outside the heap,
 * where the columns and hash tables live) per file.
 */
import { encodeEntry, entries } from '../../../master/log-entry.js';
import { MasterStateMachine } from '../../../master/state-machine.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const files = Number(process.argv[2] ?? 100_000);
const chunksPerFile = Number(process.argv[3] ?? 2);
const directories = Math.max(1, Math.round(files / 1000));

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

const sm = new MasterStateMachine();
let time = 1;
const apply = (bytes: Buffer): void => {
  const result = sm.applyEncoded(bytes);
  if (!result.ok) throw result.error;
};
apply(encodeEntry(entries.initCluster(time++, undefined, { chunkSizeBytes: 64 * 1024 * 1024, defaultReplication: 3, clusterId: 'bench' })));
for (let d = 0; d < directories; d++) apply(encodeEntry(entries.mkdir(time++, undefined, { path: `/d${d}`, mode: 0o755 })));

const before = settle();
const started = process.hrtime.bigint();
// Realistic times (microseconds since the epoch) so that they are doubles, not small integers.
const epochUs = 1_700_000_000_000_000;
for (let i = 0; i < files; i++) {
  const created = sm.applyEncoded(
    encodeEntry(entries.create(epochUs + time++, { clientId: `client-${i % 64}`, seq: i }, { path: `/d${i % directories}/file-${i}`, mode: 0o644, uid: 1000, gid: 1000 })),
  );
  if (!created.ok || created.value.kind !== 'attr') throw new Error('create failed');
  const inode = created.value.attr.inode;
  for (let c = 0; c < chunksPerFile; c++) apply(encodeEntry(entries.allocateChunk(epochUs + time++, undefined, { inode, index: c })));
  apply(encodeEntry(entries.commitWrite(epochUs + time++, undefined, { inode, endOffset: chunksPerFile * 64 * 1024 * 1024 - 1000 })));
}
const applyMs = Number(process.hrtime.bigint() - started) / 1e6;
const after = settle();
const heap = after.heapUsed - before.heapUsed;
const buffers = after.arrayBuffers - before.arrayBuffers;
console.log(`${files} files x ${chunksPerFile} chunks in ${directories} directories, ${sm.counts().sessions} sessions`);
console.log(`apply: ${(applyMs / 1000).toFixed(1)} s (${((applyMs * 1000) / (files * (chunksPerFile + 2))).toFixed(1)} us per entry)`);
console.log(`heapUsed delta per file:     ${(heap / files).toFixed(1)} bytes`);
console.log(`arrayBuffers delta per file: ${(buffers / files).toFixed(1)} bytes`);
console.log(`total per file:              ${((heap + buffers) / files).toFixed(1)} bytes`);

const snapStarted = process.hrtime.bigint();
const snapshot = sm.snapshot();
const snapMs = Number(process.hrtime.bigint() - snapStarted) / 1e6;
const restoreStarted = process.hrtime.bigint();
const restored = MasterStateMachine.restore(snapshot);
const restoreMs = Number(process.hrtime.bigint() - restoreStarted) / 1e6;
console.log(`snapshot: ${(snapshot.length / 1e6).toFixed(1)} MB in ${snapMs.toFixed(0)} ms; restore (with invariant check) ${restoreMs.toFixed(0)} ms; equal: ${restored.snapshot().equals(snapshot)}`);

// The same state rebuilt from its snapshot should cost the same.
const beforeRestore = settle();
const copy = MasterStateMachine.restore(snapshot);
const afterRestore = settle();
const restoredHeap = afterRestore.heapUsed - beforeRestore.heapUsed;
const restoredBuffers = afterRestore.arrayBuffers - beforeRestore.arrayBuffers;
console.log(`restored copy per file: heap ${(restoredHeap / files).toFixed(1)} + buffers ${(restoredBuffers / files).toFixed(1)} = ${((restoredHeap + restoredBuffers) / files).toFixed(1)} bytes (${copy.counts().files} files)`);
