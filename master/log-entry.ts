import { messageCodec, type MessageCodec } from '../proto/load.js';
import type { RequestId } from '../proto/generated/dfs/RequestId.js';
import type { AllocateChunk } from '../proto/generated/dfs/masterlog/AllocateChunk.js';
import type { BumpVersion } from '../proto/generated/dfs/masterlog/BumpVersion.js';
import type { CommitWrite } from '../proto/generated/dfs/masterlog/CommitWrite.js';
import type { ConfirmVersion } from '../proto/generated/dfs/masterlog/ConfirmVersion.js';
import type { Create } from '../proto/generated/dfs/masterlog/Create.js';
import type { Delete } from '../proto/generated/dfs/masterlog/Delete.js';
import type { InitCluster } from '../proto/generated/dfs/masterlog/InitCluster.js';
import type { LogEntry, LogEntry__Output } from '../proto/generated/dfs/masterlog/LogEntry.js';
import type { Mkdir } from '../proto/generated/dfs/masterlog/Mkdir.js';
import type { PurgeTrash } from '../proto/generated/dfs/masterlog/PurgeTrash.js';
import type { Rename } from '../proto/generated/dfs/masterlog/Rename.js';
import type { SetAttr } from '../proto/generated/dfs/masterlog/SetAttr.js';
import type { Truncate } from '../proto/generated/dfs/masterlog/Truncate.js';

export type { LogEntry, LogEntry__Output };

/** The operations a log entry can carry: the names of LogEntry's `op` oneof. */
export type LogOp = NonNullable<LogEntry__Output['op']>;

let cachedCodec: MessageCodec<LogEntry, LogEntry__Output> | undefined;

function codec(): MessageCodec<LogEntry, LogEntry__Output> {
  // A memo of a constant (the codec of a fixed .proto type), not state: the
  // type lookup costs more than decoding a small entry.
  cachedCodec ??= messageCodec<LogEntry, LogEntry__Output>('dfs.masterlog.LogEntry');
  return cachedCodec;
}

export function encodeEntry(entry: LogEntry): Buffer {
  return codec().encode(entry);
}

/** Throws protobufjs's error on malformed bytes; MasterStateMachine.applyEncoded maps it. */
export function decodeEntry(bytes: Uint8Array): LogEntry__Output {
  return codec().decode(bytes);
}

/** A time or 64-bit value as the builders take it. */
export type Int64Input = number | bigint | string;

export interface RequestIdInput {
  readonly clientId: string;
  readonly seq: Int64Input;
}

function base(timeUs: Int64Input, requestId: RequestIdInput | undefined): LogEntry {
  const entry: LogEntry = { timeUs: String(timeUs) };
  if (requestId !== undefined) entry.requestId = { clientId: requestId.clientId, seq: String(requestId.seq) } satisfies RequestId;
  return entry;
}

/**
 * Builders for every entry: `entries.mkdir(timeUs, requestId, { path: '/a' })`.
 * Leaders propose these; tests feed them through encodeEntry.
 */
export const entries = {
  initCluster: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: InitCluster): LogEntry => ({
    ...base(timeUs, requestId),
    initCluster: op,
  }),
  mkdir: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Mkdir): LogEntry => ({ ...base(timeUs, requestId), mkdir: op }),
  create: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Create): LogEntry => ({ ...base(timeUs, requestId), create: op }),
  delete: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Delete): LogEntry => ({ ...base(timeUs, requestId), delete: op }),
  rename: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Rename): LogEntry => ({ ...base(timeUs, requestId), rename: op }),
  setAttr: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: SetAttr): LogEntry => ({
    ...base(timeUs, requestId),
    setAttr: op,
  }),
  truncate: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Truncate): LogEntry => ({
    ...base(timeUs, requestId),
    truncate: op,
  }),
  allocateChunk: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: AllocateChunk): LogEntry => ({
    ...base(timeUs, requestId),
    allocateChunk: op,
  }),
  commitWrite: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: CommitWrite): LogEntry => ({
    ...base(timeUs, requestId),
    commitWrite: op,
  }),
  bumpVersion: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: BumpVersion): LogEntry => ({
    ...base(timeUs, requestId),
    bumpVersion: op,
  }),
  confirmVersion: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: ConfirmVersion): LogEntry => ({
    ...base(timeUs, requestId),
    confirmVersion: op,
  }),
  purgeTrash: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: PurgeTrash): LogEntry => ({
    ...base(timeUs, requestId),
    purgeTrash: op,
  }),
  noop: (timeUs: Int64Input, requestId?: RequestIdInput): LogEntry => ({ ...base(timeUs, requestId), noop: {} }),
} as const;
