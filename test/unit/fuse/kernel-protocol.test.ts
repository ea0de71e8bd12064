import { expect } from 'chai';
import { constants as osConstants } from 'node:os';
import { DfsError } from '../../../common/errors.js';
import { FuseError, type DirEntryOut, type DirEntryPlusOut, type InodeAttr } from '../../../fuse/file-system.js';
import { errnoOf, negotiateInit } from '../../../fuse/fuse-session.js';
import {
  decodeInHeader,
  decodeRequest,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeOutHeader,
  InitFlag,
  Opcode,
  packDirents,
  packDirentsPlus,
  SetattrValid,
} from '../../../fuse/kernel-protocol.js';

/** A request as the kernel lays it out: fuse_in_header, then `args`. */
function request(opcode: number, nodeid: number, args: Buffer, unique = 42): Buffer {
  const buf = Buffer.alloc(40 + args.length);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt32LE(opcode, 4);
  buf.writeBigUInt64LE(BigInt(unique), 8);
  buf.writeBigUInt64LE(BigInt(nodeid), 16);
  buf.writeUInt32LE(1000, 24);
  buf.writeUInt32LE(100, 28);
  buf.writeUInt32LE(4242, 32);
  args.copy(buf, 40);
  return buf;
}

function decode(buf: Buffer) {
  return decodeRequest(buf, decodeInHeader(buf, buf.length));
}

const names = (...s: string[]) => Buffer.from(s.map((x) => `${x}\0`).join(''));

const attr: InodeAttr = {
  ino: 7,
  size: 2 ** 40 + 3,
  blocks: 9,
  atimeMs: 1_500,
  mtimeMs: -1_250,
  ctimeMs: 0,
  mode: 0o100644,
  nlink: 2,
  uid: 65534,
  gid: 65533,
  rdev: 0,
  blksize: 4096,
};

describe('FUSE kernel protocol', () => {
  it('decodes the header: the request context and ids', () => {
    const h = decodeInHeader(request(Opcode.GETATTR, 2 ** 40, Buffer.alloc(16)), 56);
    expect(h).to.include({ len: 56, opcode: Opcode.GETATTR, unique: 42, nodeid: 2 ** 40, uid: 1000, gid: 100, pid: 4242, extBytes: 0 });
    expect(() => decodeInHeader(request(Opcode.GETATTR, 1, Buffer.alloc(16)), 50)).to.throw(FuseError);
  });

  it('decodes names, and symlink name before target', () => {
    expect(decode(request(Opcode.LOOKUP, 1, names('héllo')))).to.deep.equal({ kind: 'lookup', name: 'héllo' });
    expect(decode(request(Opcode.SYMLINK, 1, names('link', '../target')))).to.deep.equal({ kind: 'symlink', name: 'link', target: '../target' });
    expect(() => decode(request(Opcode.LOOKUP, 1, Buffer.from('unterminated')))).to.throw(FuseError);
  });

  it('decodes RENAME and RENAME2 alike, and LINK with the new parent in the header', () => {
    const rename2 = Buffer.concat([Buffer.alloc(16), names('a', 'b')]);
    rename2.writeBigUInt64LE(9n, 0);
    rename2.writeUInt32LE(1, 8);
    expect(decode(request(Opcode.RENAME2, 3, rename2))).to.deep.equal({ kind: 'rename', newParent: 9, flags: 1, name: 'a', newName: 'b' });
    const rename = Buffer.concat([Buffer.alloc(8), names('a', 'b')]);
    rename.writeBigUInt64LE(9n, 0);
    expect(decode(request(Opcode.RENAME, 3, rename))).to.deep.equal({ kind: 'rename', newParent: 9, flags: 0, name: 'a', newName: 'b' });
    const link = Buffer.concat([Buffer.alloc(8), names('n')]);
    link.writeBigUInt64LE(5n, 0);
    expect(decode(request(Opcode.LINK, 3, link))).to.deep.equal({ kind: 'link', ino: 5, newName: 'n' });
  });

  it('decodes SETATTR: only the valid fields, *_NOW as "now", times signed', () => {
    const args = Buffer.alloc(88);
    args.writeUInt32LE(SetattrValid.MODE | SetattrValid.SIZE | SetattrValid.ATIME | SetattrValid.ATIME_NOW | SetattrValid.MTIME | SetattrValid.FH, 0);
    args.writeBigUInt64LE(77n, 8);
    args.writeBigUInt64LE(4096n, 16);
    args.writeBigInt64LE(-2n, 40);
    args.writeUInt32LE(500_000_000, 60);
    args.writeUInt32LE(0o4755, 68);
    args.writeUInt32LE(123, 76);
    expect(decode(request(Opcode.SETATTR, 3, args))).to.deep.equal({ kind: 'setattr', changes: { fh: 77, size: 4096, atime: 'now', mtime: -1500, mode: 0o4755 } });
  });

  it('decodes WRITE as a view of the request buffer', () => {
    const args = Buffer.concat([Buffer.alloc(40), Buffer.from('payload')]);
    args.writeBigUInt64LE(3n, 0);
    args.writeBigUInt64LE(2n ** 32n, 8);
    args.writeUInt32LE(7, 16);
    const buf = request(Opcode.WRITE, 4, args);
    const req = decode(buf);
    expect(req.kind).to.equal('write');
    if (req.kind !== 'write') return;
    expect(req).to.include({ fh: 3, offset: 2 ** 32 });
    expect(req.data.toString()).to.equal('payload');
    expect(req.data.buffer).to.equal(buf.buffer);
  });

  it('refuses offsets beyond 2^53 instead of rounding them', () => {
    const args = Buffer.alloc(40);
    args.writeBigUInt64LE(2n ** 60n, 8);
    expect(() => decode(request(Opcode.READ, 4, args))).to.throw(FuseError).with.property('errno', osConstants.errno.EOVERFLOW);
  });

  it('decodes BATCH_FORGET and leaves unknown opcodes to the session', () => {
    const args = Buffer.alloc(8 + 32);
    args.writeUInt32LE(2, 0);
    args.writeBigUInt64LE(5n, 8);
    args.writeBigUInt64LE(1n, 16);
    args.writeBigUInt64LE(6n, 24);
    args.writeBigUInt64LE(3n, 32);
    expect(decode(request(Opcode.BATCH_FORGET, 0, args))).to.deep.equal({ kind: 'batchForget', forgets: [{ ino: 5, nlookup: 1 }, { ino: 6, nlookup: 3 }] });
    expect(decode(request(Opcode.GETXATTR, 1, Buffer.alloc(8)))).to.deep.equal({ kind: 'unsupported', opcode: Opcode.GETXATTR });
    expect(decode(request(999, 1, Buffer.alloc(0)))).to.deep.equal({ kind: 'unsupported', opcode: 999 });
  });

  it('encodes the out header with a negative errno', () => {
    const buf = Buffer.alloc(16);
    encodeOutHeader(buf, 16, -2, 2 ** 33 + 1);
    expect([buf.readUInt32LE(0), buf.readInt32LE(4), buf.readBigUInt64LE(8)]).to.deep.equal([16, -2, 2n ** 33n + 1n]);
  });

  it('encodes fuse_entry_out and fuse_attr_out at their C offsets', () => {
    const buf = Buffer.alloc(128);
    expect(encodeEntryOut(buf, 0, { attr, attrTimeoutMs: 1_500, entryTimeoutMs: 250 })).to.equal(128);
    expect(buf.readBigUInt64LE(0)).to.equal(7n); // nodeid
    expect([buf.readBigUInt64LE(16), buf.readUInt32LE(32)]).to.deep.equal([0n, 250_000_000]); // entry_valid
    expect([buf.readBigUInt64LE(24), buf.readUInt32LE(36)]).to.deep.equal([1n, 500_000_000]); // attr_valid
    expect(buf.readBigUInt64LE(48)).to.equal(2n ** 40n + 3n); // attr.size
    expect([buf.readBigInt64LE(64), buf.readUInt32LE(88)]).to.deep.equal([1n, 500_000_000]); // atime
    expect([buf.readBigInt64LE(72), buf.readUInt32LE(92)]).to.deep.equal([-2n, 750_000_000]); // mtime, before the epoch
    expect([buf.readUInt32LE(100), buf.readUInt32LE(104), buf.readUInt32LE(108), buf.readUInt32LE(112)]).to.deep.equal([0o100644, 2, 65534, 65533]);
    expect(buf.readUInt32LE(120)).to.equal(4096); // blksize
    const out = Buffer.alloc(104);
    expect(encodeAttrOut(out, 0, attr, 0)).to.equal(104);
    expect(out.readBigUInt64LE(16)).to.equal(7n);
  });

  it('packs dirents 8-byte aligned and stops at the first that does not fit', () => {
    const entries: DirEntryOut[] = ['a', 'bbbbbbbbbbbbbbbbb', 'c'].map((name, i) => ({ name, ino: 10 + i, type: 0o040000, nextOffset: i + 1 }));
    const buf = Buffer.alloc(100);
    // 24 + 1 -> 32, 24 + 17 -> 48: two fit in 80, the third (32) does not.
    expect(packDirents(buf, 0, 80, entries)).to.deep.equal({ bytes: 80, count: 2 });
    expect([buf.readBigUInt64LE(32), buf.readBigUInt64LE(40), buf.readUInt32LE(48), buf.readUInt32LE(52)]).to.deep.equal([11n, 2n, 17, 4]);
    expect(buf.toString('utf8', 56, 73)).to.equal('bbbbbbbbbbbbbbbbb');
    const plus: DirEntryPlusOut[] = entries.map((e) => ({ ...e, entry: { attr: { ...attr, ino: e.ino }, attrTimeoutMs: 0, entryTimeoutMs: 0 } }));
    // fuse_direntplus: 152 bytes before the name: 160, 176, 160.
    expect(packDirentsPlus(Buffer.alloc(500), 0, 400, plus)).to.deep.equal({ bytes: 336, count: 2 });
    expect(packDirentsPlus(Buffer.alloc(500), 0, 496, plus)).to.deep.equal({ bytes: 496, count: 3 });
  });

  it('encodes fuse_init_out', () => {
    const buf = Buffer.alloc(64, 0xff);
    encodeInitOut(buf, 0, { major: 7, minor: 38, maxReadahead: 131072, flags: InitFlag.INIT_EXT | InitFlag.ASYNC_READ, maxBackground: 64, congestionThreshold: 48, maxWrite: 1 << 20, timeGran: 1, maxPages: 256 });
    expect([buf.readUInt32LE(0), buf.readUInt32LE(4), buf.readUInt32LE(12), buf.readUInt16LE(16), buf.readUInt16LE(18), buf.readUInt32LE(20), buf.readUInt16LE(28)]).to.deep.equal([
      7, 38, (1 << 30) | 1, 64, 48, 1 << 20, 256,
    ]);
    expect(buf.subarray(30).every((b) => b === 0)).to.equal(true);
  });
});

describe('FUSE session INIT and errors', () => {
  const config = { maxWriteBytes: 1 << 20, maxReadaheadBytes: undefined, writebackCache: false, maxBackground: 64, congestionThreshold: 48 };

  it('negotiates down to 7.38 and asks only for what the kernel offers', () => {
    const offer = { major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb };
    const outcome = negotiateInit(offer, config);
    expect(outcome.kind).to.equal('accept');
    if (outcome.kind !== 'accept') return;
    expect(outcome.reply).to.include({ major: 7, minor: 38, maxWrite: 1 << 20, maxPages: 256, maxReadahead: 131072, timeGran: 1000 });
    const f = outcome.reply.flags;
    for (const bit of [InitFlag.ASYNC_READ, InitFlag.ATOMIC_O_TRUNC, InitFlag.BIG_WRITES, InitFlag.AUTO_INVAL_DATA, InitFlag.DO_READDIRPLUS, InitFlag.READDIRPLUS_AUTO, InitFlag.PARALLEL_DIROPS, InitFlag.MAX_PAGES]) {
      expect(f & bit, `flag ${bit}`).to.not.equal(0);
    }
    for (const bit of [InitFlag.WRITEBACK_CACHE, InitFlag.EXPORT_SUPPORT, InitFlag.DONT_MASK, InitFlag.POSIX_LOCKS, InitFlag.FLOCK_LOCKS]) {
      expect(f & bit, `flag ${bit}`).to.equal(0);
    }
    const withCache = negotiateInit(offer, { ...config, writebackCache: true });
    expect(withCache.kind === 'accept' && (withCache.reply.flags & InitFlag.WRITEBACK_CACHE) !== 0).to.equal(true);
    const offerWithout = negotiateInit({ ...offer, flags: InitFlag.ASYNC_READ }, config);
    expect(offerWithout.kind === 'accept' && offerWithout.reply.flags).to.equal(InitFlag.ASYNC_READ);
  });

  it('refuses old kernels and answers a newer major with ours', () => {
    expect(negotiateInit({ major: 7, minor: 27, maxReadahead: 0, flags: 0 }, config).kind).to.equal('refuse');
    expect(negotiateInit({ major: 8, minor: 0, maxReadahead: 0, flags: 0 }, config)).to.deep.include({ kind: 'retry' });
  });

  it('maps errors to errno: FuseError, a DfsError\'s errno name, else EIO (unexpected)', () => {
    expect(errnoOf(new FuseError(osConstants.errno.ENOTEMPTY))).to.deep.equal({ errno: osConstants.errno.ENOTEMPTY, unexpected: false });
    expect(errnoOf(new DfsError('NOT_FOUND', 'x'))).to.deep.equal({ errno: osConstants.errno.ENOENT, unexpected: false });
    expect(errnoOf(new DfsError('NO_SPACE', 'x'))).to.deep.equal({ errno: osConstants.errno.ENOSPC, unexpected: false });
    expect(errnoOf(new Error('boom'))).to.deep.equal({ errno: osConstants.errno.EIO, unexpected: true });
    expect(errnoOf(Object.assign(new Error('odd'), { errno: 'NOT_AN_ERRNO' }))).to.deep.equal({ errno: osConstants.errno.EIO, unexpected: true });
  });
});
