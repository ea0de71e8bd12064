import { expect } from 'chai';
import protobuf from 'protobufjs';

import { protoRoot, CONVERSION } from '../../../proto/load.js';
import { ProtoReader, ProtoWriter, WIRE_LEN, WIRE_VARINT } from '../../../master/proto-wire.js';
import { MasterStateMachine } from '../../../master/state-machine.js';
import { encodeEntry, entries } from '../../../master/log-entry.js';
import { CHUNK } from './harness.js';

describe('snapshot wire codec (proto-wire)', () => {
  it('writes what protobufjs reads: uint64, int64 (negative too), bool, string, packed, nested', () => {
    const type = protoRoot().lookupType('dfs.masterlog.InodeRecord');
    const w = new ProtoWriter(4);
    w.uint(1, 2 ** 53 - 1);
    w.uint(2, 1);
    w.uint(3, 0o7777);
    w.uint(4, 0xffffffff);
    w.int(8, -1);
    w.int(9, Number.MIN_SAFE_INTEGER);
    w.int(10, 1_700_000_000_000_000);
    w.bool(12, true);
    w.packed(13, [0, 1, 127, 128, 2 ** 32, 2 ** 53 - 1]);
    const decoded = type.toObject(type.decode(w.finish()), CONVERSION);
    expect(decoded).to.include({
      id: '9007199254740991',
      kind: 'FILE_KIND_FILE',
      mode: 0o7777,
      uid: 0xffffffff,
      atimeUs: '-1',
      mtimeUs: '-9007199254740991',
      ctimeUs: '1700000000000000',
      replicateAll: true,
    });
    expect(decoded['chunks']).to.deep.equal(['0', '1', '127', '128', '4294967296', '9007199254740991']);
  });

  it('reads what protobufjs writes, and refuses what is not a safe integer with NaN', () => {
    const type = protoRoot().lookupType('dfs.masterlog.InodeRecord');
    const bytes = type
      .encode(type.fromObject({ id: '9007199254740993', size: '12', atimeUs: '-5', mtimeUs: '-9223372036854775808', chunks: ['3', '0', '4'] }))
      .finish();
    const r = new ProtoReader(bytes);
    const seen: Record<number, unknown> = {};
    while (!r.done) {
      const tag = r.tag();
      const field = tag >>> 3;
      if (field === 13) {
        const chunks: number[] = [];
        r.repeated(tag & 7, chunks);
        seen[field] = chunks;
      } else if (field >= 8 && field <= 10) seen[field] = r.int64();
      else seen[field] = r.varint();
    }
    expect(seen[1]).to.be.NaN;
    expect(seen[6]).to.equal(12);
    expect(seen[8]).to.equal(-5);
    expect(seen[9]).to.be.NaN;
    expect(seen[13]).to.deep.equal([3, 0, 4]);
  });

  it('accepts a repeated integer unpacked, and closes the gap left for a short length', () => {
    const w = new ProtoWriter();
    const mark = w.begin(4);
    w.string(2, 'x'.repeat(200));
    w.end(mark);
    const bytes = w.finish();
    expect(bytes.length).to.equal(1 + 2 + (1 + 2 + 200)); // tag, length, then the string field
    const r = new ProtoReader(bytes);
    expect(r.tag()).to.equal(4 * 8 + WIRE_LEN);
    const end = r.delimited();
    expect(end).to.equal(bytes.length);
    const unpacked = new ProtoReader(Uint8Array.from([13 * 8 + WIRE_VARINT, 5]));
    const into: number[] = [];
    unpacked.repeated(unpacked.tag() & 7, into);
    expect(into).to.deep.equal([5]);
  });

  it('throws on truncated input', () => {
    expect(() => new ProtoReader(Uint8Array.from([0x80])).varint()).to.throw(/truncated/);
    const r = new ProtoReader(Uint8Array.from([0x22, 0x05, 0x08]));
    r.tag();
    expect(() => r.delimited()).to.throw(/past the end/);
  });

  it('a snapshot read by protobufjs and written back restores to the same bytes', () => {
    const sm = new MasterStateMachine();
    const t = 1_700_000_000_000_000;
    for (const entry of [
      entries.initCluster(t, undefined, { chunkSizeBytes: CHUNK, defaultReplication: 2, clusterId: 'x' }),
      entries.mkdir(t + 1, { clientId: 'c', seq: 1 }, { path: '/d\u00e9j\u00e0', mode: 0o700 }),
      entries.create(t + 2, undefined, { path: '/d\u00e9j\u00e0/f' }),
      entries.setAttr(t + 3, undefined, { path: '/d\u00e9j\u00e0/f', atimeUs: -42, mtimeUs: 2 ** 53 - 1 }),
      entries.allocateChunk(t + 4, undefined, { inode: 3, index: 2 }),
      entries.delete(t + 5, { clientId: 'c', seq: 2 }, { path: '/d\u00e9j\u00e0', recursive: true }),
    ]) {
      sm.applyEncoded(encodeEntry(entry));
    }
    const type: protobuf.Type = protoRoot().lookupType('dfs.masterlog.MasterSnapshot');
    const bytes = sm.snapshot();
    const viaProtobufjs = type.encode(type.fromObject(type.toObject(type.decode(bytes), CONVERSION))).finish();
    expect(MasterStateMachine.restore(viaProtobufjs).snapshot().equals(bytes)).to.equal(true);
  });
});
