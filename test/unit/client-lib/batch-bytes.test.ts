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
  const maxName = 'é'.repeat(LIMITS.nameMaxBytes >> 1);
  const maxInode = String(Number.MAX_SAFE_INTEGER);
  const caller = { uid: 0xffffffff, gid: 0xffffffff, groups: Array.from({ length: LIMITS.callerGroupsMax }, () => 0xffffffff) };
  const times = { atimeUs: String(-Number.MAX_SAFE_INTEGER), mtimeUs: String(-Number.MAX_SAFE_INTEGER) };
  const largest: [string, BatchOp][] = [
    ['mkdir', { mkdir: { requestId, path: maxPath, mode: 0o7777, uid: 0xffffffff, gid: 0xffffffff, parents: true, caller } }],
    [
      'create',
      {
        create: { requestId, path: maxPath, mode: 0o7777, uid: 0xffffffff, gid: 0xffffffff, exclusive: true, replication: LIMITS.replicationMax, replicateAll: true, caller },
      },
    ],
    ['delete', { delete: { requestId, path: maxPath, recursive: true, caller } }],
    ['rename', { rename: { requestId, source: maxPath, destination: maxPath, noReplace: true, caller } }],
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
          caller,
        },
      },
    ],
    ['truncate', { truncate: { requestId, inode: maxInode, size: maxInode, caller } }],
    ['commitWrite', { commitWrite: { requestId, inode: maxInode, endOffset: maxInode, caller, writtenAtUs: maxInode } }],
    [
      'makeNode',
      {
        makeNode: {
          requestId,
          parent: maxInode,
          name: maxName,
          kind: 'FILE_KIND_SYMLINK',
          mode: 0o7777,
          rdev: 0xffffffff,
          target: 'é'.repeat(LIMITS.symlinkTargetMaxBytes >> 1),
          exclusive: true,
          uid: 0xffffffff,
          gid: 0xffffffff,
          caller,
        },
      },
    ],
    ['link', { link: { requestId, inode: maxInode, newParent: maxInode, newName: maxName, caller } }],
    ['remove', { remove: { requestId, parent: maxInode, name: maxName, directory: true, caller } }],
    ['renameAt', { renameAt: { requestId, parent: maxInode, name: maxName, newParent: maxInode, newName: maxName, noReplace: true, caller } }],
    [
      'setAttrInode',
      { setAttrInode: { requestId, inode: maxInode, mode: 0o7777, uid: 0xffffffff, gid: 0xffffffff, ...times, atimeNow: false, mtimeNow: false, caller } },
    ],
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
