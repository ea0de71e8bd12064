import { expect } from 'chai';

import { LIMITS } from '../../../common/limits.js';
import { processCaller, wireCaller } from '../../../client-lib/caller.js';
import { fromWireAttr, toWireKind, type FileKind } from '../../../client-lib/types.js';
import type { Attr__Output } from '../../../proto/generated/dfs/Attr.js';

describe('client callers and kinds', () => {
  it('the default caller is this process: its effective ids and its other groups', () => {
    const caller = processCaller();
    expect(caller.uid).to.equal(process.geteuid!());
    expect(caller.gid).to.equal(process.getegid!());
    expect(caller.groups).to.not.include(caller.gid);
  });

  it('a caller must have uint32 ids and at most LIMITS.callerGroupsMax groups (INVALID_ARGUMENT)', () => {
    expect(wireCaller({ uid: 1, gid: 2, groups: [3] })).to.deep.equal({ uid: 1, gid: 2, groups: [3] });
    const bad = [
      { uid: -1, gid: 0, groups: [] },
      { uid: 0, gid: 2 ** 32, groups: [] },
      { uid: 0.5, gid: 0, groups: [] },
      { uid: 0, gid: 0, groups: [-3] },
      { uid: 0, gid: 0, groups: Array.from({ length: LIMITS.callerGroupsMax + 1 }, (_, i) => i) },
    ];
    for (const caller of bad) expect(() => wireCaller(caller), JSON.stringify(caller).slice(0, 40)).to.throw().with.property('code', 'INVALID_ARGUMENT');
  });

  it('every kind maps to the wire and back; an unknown one is refused', () => {
    const kinds: FileKind[] = ['file', 'directory', 'symlink', 'fifo', 'socket', 'char-device', 'block-device'];
    const base: Attr__Output = {
      inode: '2',
      kind: 'FILE_KIND_FILE',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: '0',
      nlink: 1,
      atimeUs: '0',
      mtimeUs: '0',
      ctimeUs: '0',
      replication: 0,
      replicateAll: false,
      chunkCount: '0',
      rdev: 7,
    };
    for (const kind of kinds) expect(fromWireAttr({ ...base, kind: toWireKind(kind) })).to.include({ kind, rdev: 7 });
    expect(() => toWireKind('door' as FileKind)).to.throw().with.property('code', 'INVALID_ARGUMENT');
    expect(() => fromWireAttr({ ...base, kind: 'FILE_KIND_UNSPECIFIED' })).to.throw().with.property('code', 'INTERNAL');
  });
});
