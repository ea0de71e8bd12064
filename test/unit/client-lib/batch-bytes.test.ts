import { expect } from 'chai';

import { LIMITS } from '../../../common/limits.js';
import { mutationBytes } from '../../../client-lib/master-client.js';
import { batchSubEntry } from '../../../master/batch-ops.js';
import { encodeEntry } from '../../../master/log-entry.js';
import { masterServices } from '../../../proto/load.js';
import type { BatchOp } from '../../../proto/generated/dfs/master/BatchOp.js';

/** A BatchOp as the master receives it: through the wire, decoded as the server decodes it. */
function received(op: BatchOp) {
  const method = masterServices().dfs.master.Metadata.service.Batch;
  return method.requestDeserialize(method.requestSerialize({ ops: [op] })).ops[0]!;
}

/** Bytes `op` adds to a Batch entry, as the master encodes it: with it, minus without. */
function entryBytes(op: BatchOp): number {
  const timeUs = -Number.MAX_SAFE_INTEGER; // the longest time there is
  return encodeEntry({ timeUs, batch: { entries: [batchSubEntry(received(op))] } }).length - encodeEntry({ timeUs, batch: { entries: [] } }).length;
}

describe('client batch size estimate', () => {
  const requestId = { clientId: 'c'.repeat(LIMITS.clientIdMaxBytes), seq: Number.MAX_SAFE_INTEGER };
  const maxPath = '/' + Array.from({ length: 16 }, () => 'é'.repeat(125)).join('/').slice(0, LIMITS.pathMaxBytes / 2 - 1);
  const largest: [string, BatchOp][] = [
    ['mkdir', { mkdir: { requestId, path: maxPath, mode: 0o7777, uid: 0xffffffff, gid: 0xffffffff, parents: true } }],
    ['create', { create: { requestId, path: maxPath, mode: 0o7777, uid: 0xffffffff, gid: 0xffffffff, exclusive: true, replication: LIMITS.replicationMax, replicateAll: true } }],
    ['delete', { delete: { requestId, path: maxPath, recursive: true } }],
    ['rename', { rename: { requestId, source: maxPath, destination: maxPath, noReplace: true } }],
    [
      'setAttr',
      {
        setAttr: {
          requestId,
          path: maxPath,
          mode: 0o7777,
          uid: 0xffffffff,
          gid: 0xffffffff,
          atimeUs: String(-Number.MAX_SAFE_INTEGER),
          mtimeUs: String(-Number.MAX_SAFE_INTEGER),
          replication: LIMITS.replicationMax,
          replicateAll: true,
        },
      },
    ],
    ['truncate', { truncate: { requestId, inode: String(Number.MAX_SAFE_INTEGER), size: String(Number.MAX_SAFE_INTEGER) } }],
    ['commitWrite', { commitWrite: { requestId, inode: String(Number.MAX_SAFE_INTEGER), endOffset: String(Number.MAX_SAFE_INTEGER) } }],
  ];

  for (const [name, op] of largest) {
    it(`bounds what the largest ${name} adds to the master's entry`, () => {
      expect(entryBytes(op)).to.be.at.most(mutationBytes(op));
    });
  }

  it("leaves room for the entry's own time and framing in the per-op slack", () => {
    const empty = encodeEntry({ timeUs: -Number.MAX_SAFE_INTEGER, batch: { entries: [] } }).length;
    const slack = Math.min(...largest.map(([, op]) => mutationBytes(op) - entryBytes(op)));
    expect(empty).to.be.at.most(slack);
  });
});
