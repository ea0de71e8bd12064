/**
 * Raft consensus for the master: a pure core, storage and transport adapters,
 * and RaftGroup, the driver that joins them. See OVERVIEW.md.
 */

// The driver: what an application normally uses.
export { RaftGroup, type Lifecycle, type MemberStatus, type RaftCounters, type RaftGroupStatus } from './node/raft-group.js';
export { RAFT_GROUP_DEFAULTS, type RaftGroupOptions } from './node/raft-group-options.js';
export type { AppliedEntry, StateMachine } from './node/state-machine.js';

// Storage.
export type { RaftStorage, StorageUpdate } from './storage/raft-storage.js';
export { MemoryStorage } from './storage/memory-storage.js';
export { LevelDbStorage } from './storage/leveldb-storage.js';

// Transport.
export type { RaftTransport, TransportHandler } from './transport/transport.js';
export { GrpcTransport, type GrpcTransportOptions } from './transport/grpc-transport.js';
export { TRANSPORT_LIMITS, type TransportLimits } from './transport/limits.js';
export { raftServices } from './proto/raft-proto.js';

// The core, for drivers of its own (tests, simulators).
export { RaftCore, type BasicStatus } from './core/raft-core.js';
export type { RaftStatus, ProgressStatus } from './core/raft.js';
export { RAFT_DEFAULTS, type RaftConfig } from './core/config.js';
export type { Ready } from './core/ready.js';
export type { Message, MessageType } from './core/messages.js';
export { RaftError, isRaftError, RAFT_ERROR_CODES, type RaftErrorCode } from './core/errors.js';
export { StorageError, isStorageError, STORAGE_ERROR_CODES, type Storage, type StorageErrorCode } from './core/storage.js';
export { bootstrapEntries, decodeConfChange, encodeConfChange, type ConfChange, type ConfChangeType } from './core/conf-change.js';
export {
  nodeId,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Index,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
  type Term,
} from './core/types.js';
