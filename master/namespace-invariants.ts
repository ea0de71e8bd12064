import { assert } from '../common/assert.js';
import { DfsError } from '../common/errors.js';
import { type InodeId, ROOT_INODE } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { ChunkTable } from './chunk-table.js';
import type { InodeTable } from './inode-table.js';
import { broken } from './invariant.js';
import { isValidName, requireSymlinkTarget } from './names.js';

export interface NamespaceCounters {
  readonly nextInode: number;
  readonly nextHandle: number;
  readonly chunkSizeBytes: number;
}

/**
 * Asserts every invariant of a namespace (Namespace.checkInvariants):
 * - every inode is reachable from the root or from a trash entry, a
 *   directory exactly once, and it records the directory that holds it (0 at
 *   the root and at the top of a trash entry);
 * - a directory's nlink is 2 + its subdirectories; a non-directory's is the
 *   number of entries naming it, at most LIMITS.linksMax; a non-directory that
 *   is a trash entry of its own has no entry and nlink 0;
 * - each kind holds only its own attributes (chunks for files, a target for
 *   symlinks, a device number for devices), within the limits;
 * - every chunk is referenced as often as its count says, by its owner at its
 *   index, and every id is below its counter.
 * Marks and counts live in typed arrays by row: restore runs this over
 * millions of records.
 */
export function checkNamespace(inodes: InodeTable, chunks: ChunkTable, trash: readonly { inode: InodeId; originalPath: string }[], counters: NamespaceCounters): void {
  inodes.checkStorage();
  chunks.checkStorage();
  const rootRow = inodes.rowOf(ROOT_INODE);
  assert(rootRow !== -1 && inodes.isDirectory(rootRow), 'the root is missing or not a directory');
  /** 1: reached; 2: reached as a trash entry of its own (non-directories). */
  const seen = new Uint8Array(inodes.rowEnd);
  /** Entries naming each non-directory. */
  const links = new Uint32Array(inodes.rowEnd);
  const references = new Uint32Array(chunks.rowEnd);
  let seenCount = 0;

  const visit = (id: number, where: string): number => {
    const row = inodes.rowOf(id);
    if (row === -1) broken(`inode ${id} is linked but missing (${where})`);
    if (!(id < counters.nextInode)) broken(`inode ${id} is not below the counter ${counters.nextInode}`);
    seen[row] = 1;
    seenCount++;
    checkAttributes(inodes, chunks, row, references, counters.chunkSizeBytes);
    return row;
  };

  const walk = (top: number, where: string): void => {
    const stack = [top];
    for (let row = stack.pop(); row !== undefined; row = stack.pop()) {
      const id = inodes.id(row);
      let subdirectories = 0;
      for (const [name, child] of inodes.children(row)) {
        if (!isValidName(name)) broken(`directory ${id} has an entry with a bad name ${JSON.stringify(name)}`);
        let childRow = inodes.rowOf(child);
        if (childRow !== -1 && seen[childRow] === 2) broken(`inode ${child} is in the trash on its own but named by ${name} of ${id}`);
        if (childRow === -1 || seen[childRow] === 0) childRow = visit(child, where);
        else if (inodes.isDirectory(childRow)) broken(`directory ${child} is reachable twice (${where})`);
        if (inodes.isDirectory(childRow)) {
          subdirectories++;
          if (inodes.children(childRow).parent !== id) broken(`directory ${child} names parent ${inodes.children(childRow).parent}, not ${id}`);
          stack.push(childRow);
        } else {
          links[childRow]++;
        }
      }
      if (inodes.nlink(row) !== 2 + subdirectories) broken(`directory ${id} has nlink ${inodes.nlink(row)}, expected ${2 + subdirectories}`);
    }
  };

  visit(ROOT_INODE, 'namespace');
  if (inodes.children(rootRow).parent !== 0) broken('the root names a parent');
  walk(rootRow, 'namespace');
  for (const entry of trash) {
    const where = `trash ${entry.originalPath}`;
    const row = inodes.rowOf(entry.inode);
    if (entry.inode === ROOT_INODE || (row !== -1 && seen[row] !== 0)) broken(`inode ${entry.inode} is reachable twice (${where})`);
    visit(entry.inode, where);
    if (inodes.isDirectory(row)) {
      if (inodes.children(row).parent !== 0) broken(`trashed directory ${entry.inode} names a parent`);
      walk(row, where);
    } else {
      seen[row] = 2;
    }
  }
  if (seenCount !== inodes.count) broken(`${inodes.count - seenCount} inodes are neither in the namespace nor in the trash`);
  inodes.forEachRow((row) => {
    if (inodes.isDirectory(row)) return;
    const nlink = inodes.nlink(row);
    const expected = seen[row] === 2 ? 0 : links[row]!;
    if (nlink !== expected) broken(`inode ${inodes.id(row)} has nlink ${nlink} but ${expected} entries`);
    if (nlink > LIMITS.linksMax) broken(`inode ${inodes.id(row)} has more than ${LIMITS.linksMax} links`);
  });
  for (let row = 0; row < chunks.rowEnd; row++) {
    const handle = chunks.handleAt(row);
    if (handle === 0) continue;
    if (references[row] !== chunks.refCountAt(row)) broken(`chunk ${handle} has refCount ${chunks.refCountAt(row)} but ${references[row]} references`);
    if (!(handle < counters.nextHandle)) broken(`chunk ${handle} is not below the counter ${counters.nextHandle}`);
    const owner = chunks.ownerAt(row);
    const ownerRow = inodes.rowOf(owner);
    if (!(ownerRow !== -1 && inodes.isFile(ownerRow))) broken(`chunk ${handle}'s owner ${owner} is not a file`);
    if (inodes.chunkAt(ownerRow, chunks.indexAt(row)) !== handle) broken(`chunk ${handle}'s owner ${owner} does not hold it at ${chunks.indexAt(row)}`);
  }
}

/** The attributes each kind may have; counts the chunk references of a file. */
function checkAttributes(inodes: InodeTable, chunks: ChunkTable, row: number, references: Uint32Array, chunkSizeBytes: number): void {
  const id = inodes.id(row);
  if ((inodes.mode(row) & ~0o7777) !== 0) broken(`inode ${id} has mode ${inodes.mode(row)}`);
  const kind = inodes.kind(row);
  if (kind !== 'file') {
    if (!(inodes.replication(row) === 0 && !inodes.replicateAll(row))) broken(`${kind} ${id} has a replication goal`);
    const size = kind === 'symlink' ? Buffer.byteLength(inodes.target(row), 'utf8') : 0;
    if (inodes.size(row) !== size) broken(`${kind} ${id} has size ${inodes.size(row)}, expected ${size}`);
  }
  switch (kind) {
    case 'file': {
      const replication = inodes.replication(row);
      if (!(replication >= 1 && replication <= LIMITS.replicationMax)) broken(`file ${id} has replication ${replication}`);
      if (!(inodes.size(row) <= LIMITS.chunksPerFileMax * chunkSizeBytes)) broken(`file ${id} is larger than the limit`);
      const slots = inodes.chunkCount(row);
      if (!(slots <= LIMITS.chunksPerFileMax)) broken(`file ${id} has ${slots} chunk slots`);
      if (!(slots === 0 || inodes.chunkAt(row, slots - 1) !== 0)) broken(`file ${id}'s chunk list ends with a hole`);
      for (let index = 0; index < slots; index++) {
        const handle = inodes.chunkAt(row, index);
        if (handle === 0) continue;
        const chunkRow = chunks.rowOf(handle);
        if (chunkRow === -1) broken(`file ${id} holds unknown chunk ${handle}`);
        references[chunkRow]++;
        if (chunks.ownerAt(chunkRow) === id && chunks.indexAt(chunkRow) !== index) {
          broken(`chunk ${handle} is at ${index} in its owner ${id}, recorded at ${chunks.indexAt(chunkRow)}`);
        }
      }
      break;
    }
    case 'symlink': {
      if (inodes.mode(row) !== 0o777) broken(`symlink ${id} has mode ${inodes.mode(row).toString(8)}`);
      let valid = true;
      try {
        requireSymlinkTarget(inodes.target(row));
      } catch (err) {
        if (!(err instanceof DfsError)) throw err;
        valid = false;
      }
      if (!valid) broken(`symlink ${id} has a bad target`);
      break;
    }
    case 'char-device':
    case 'block-device': {
      const rdev = inodes.rdev(row);
      if (!(Number.isInteger(rdev) && rdev >= 0 && rdev <= 0xffffffff)) broken(`device ${id} has rdev ${rdev}`);
      break;
    }
    case 'directory':
    case 'fifo':
    case 'socket':
      break;
  }
}
