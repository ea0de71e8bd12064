import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelDbStorage } from '../../../raft/storage/leveldb-storage.js';
import { MemoryStorage } from '../../../raft/storage/memory-storage.js';
import { storageConformance } from './storage-conformance.js';

storageConformance('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  // Memory is its own disk: reopening finds the same object.
  return { storage, reopen: async () => storage, cleanup: async () => {} };
});

storageConformance('LevelDbStorage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-storage-'));
  let current = await LevelDbStorage.open(dir);
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = await LevelDbStorage.open(dir);
      return current;
    },
    cleanup: async () => {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
