import type protobuf from 'protobufjs';
import { CONVERSION, messageCodec, protoRoot, type MessageCodec } from '../proto/load.js';
import type { RequestId } from '../proto/generated/dfs/RequestId.js';
import type { AllocateChunk } from '../proto/generated/dfs/masterlog/AllocateChunk.js';
import type { Batch, Batch__Output } from '../proto/generated/dfs/masterlog/Batch.js';
import type { BumpVersion } from '../proto/generated/dfs/masterlog/BumpVersion.js';
import type { CommitWrite } from '../proto/generated/dfs/masterlog/CommitWrite.js';
import type { ConfirmVersion } from '../proto/generated/dfs/masterlog/ConfirmVersion.js';
import type { Create } from '../proto/generated/dfs/masterlog/Create.js';
import type { Delete } from '../proto/generated/dfs/masterlog/Delete.js';
import type { InitCluster } from '../proto/generated/dfs/masterlog/InitCluster.js';
import type { Link } from '../proto/generated/dfs/masterlog/Link.js';
import type { MakeNode } from '../proto/generated/dfs/masterlog/MakeNode.js';
import type { Remove } from '../proto/generated/dfs/masterlog/Remove.js';
import type { RenameAt } from '../proto/generated/dfs/masterlog/RenameAt.js';
import type { LogEntry, LogEntry__Output } from '../proto/generated/dfs/masterlog/LogEntry.js';
import type { Mkdir } from '../proto/generated/dfs/masterlog/Mkdir.js';
import type { PurgeTrash } from '../proto/generated/dfs/masterlog/PurgeTrash.js';
import type { Rename } from '../proto/generated/dfs/masterlog/Rename.js';
import type { SetAttr } from '../proto/generated/dfs/masterlog/SetAttr.js';
import type { SetNodeState } from '../proto/generated/dfs/masterlog/SetNodeState.js';
import type { Truncate } from '../proto/generated/dfs/masterlog/Truncate.js';
import { ProtoWriter } from './proto-wire.js';

export type { LogEntry, LogEntry__Output };

/** The operations a log entry can carry: the names of LogEntry's `op` oneof. */
export type LogOp = NonNullable<LogEntry__Output['op']>;

let cachedCodec: MessageCodec<LogEntry, LogEntry__Output> | undefined;
let cachedType: protobuf.Type | undefined;

function codec(): MessageCodec<LogEntry, LogEntry__Output> {
  // A memo of a constant (the codec of a fixed .proto type), not state: the
  // type lookup costs more than decoding a small entry.
  cachedCodec ??= messageCodec<LogEntry, LogEntry__Output>('dfs.masterlog.LogEntry');
  return cachedCodec;
}

/**
 * Decoding converts 64-bit fields to numbers, not to the decimal strings of
 * CONVERSION: a string costs a Long and a division loop per field, and every
 * replica decodes every entry (half the decoding time of a batch of
 * creates). No precision is lost unnoticed: a value below 2^53 converts
 * exactly, and one at or above it converts to a double at or above 2^53,
 * which is never a safe integer, so the readers of entry-fields.ts refuse it
 * as they refuse an over-long string. The readers take either form.
 */
const DECODING = { ...CONVERSION, longs: Number } as const;

function entryType(): protobuf.Type {
  cachedType ??= protoRoot().lookupType('dfs.masterlog.LogEntry');
  return cachedType;
}

/**
 * 64-bit fields may be given as numbers (safe integers), which encode several
 * times faster than decimal strings.
 */
export function encodeEntry(entry: LogEntry): Buffer {
  return codec().encode(entry);
}

let cachedBatchCodec: MessageCodec<Batch, Batch__Output> | undefined;

/**
 * The body of a Batch entry: its sub-entries, encoded. Bodies combine by
 * concatenation (a repeated field's elements are just written one after
 * another), so the leader joins the batches of several calls into one entry
 * without encoding anything twice: see batchEntryFromBodies.
 */
export function encodeBatchBody(subEntries: readonly LogEntry[]): Buffer {
  cachedBatchCodec ??= messageCodec<Batch, Batch__Output>('dfs.masterlog.Batch');
  // A sub-entry's own time is ignored (the batch's applies): not worth its bytes.
  return cachedBatchCodec.encode({ entries: subEntries.map((e) => (e.timeUs === undefined ? e : withoutTime(e))) });
}

function withoutTime({ timeUs: _ignored, ...sub }: LogEntry): LogEntry {
  return sub;
}

/** LogEntry's field numbers that batchEntryFromBodies writes (master-log.proto). */
const TIME_US_FIELD = 1;
const BATCH_FIELD = 23;

/**
 * What a Batch entry holds besides its bodies, at most: the time (a tag and
 * ten bytes) and the batch field's tag (two bytes) and length (three bytes
 * up to 2 MiB).
 */
export const BATCH_ENTRY_OVERHEAD_BYTES = 16;

/**
 * A whole Batch entry at `timeUs` from bodies of encodeBatchBody, their
 * sub-entries in order: the bytes encodeEntry writes for the same entry
 * (but for a zero time, which is left out, as proto3 allows).
 */
export function batchEntryFromBodies(timeUs: number, bodies: readonly Uint8Array[]): Buffer {
  const body = bodies.length === 1 ? bodies[0]! : Buffer.concat(bodies);
  const writer = new ProtoWriter(body.length + BATCH_ENTRY_OVERHEAD_BYTES);
  writer.int(TIME_US_FIELD, timeUs);
  writer.bytes(BATCH_FIELD, body);
  return writer.finish();
}

/**
 * Throws protobufjs's error on malformed bytes; MasterStateMachine.applyEncoded
 * maps it. Its 64-bit fields are numbers (see DECODING), whatever the
 * generated type says: read them only through entry-fields.ts.
 */
export function decodeEntry(bytes: Uint8Array): LogEntry__Output {
  const type = entryType();
  return type.toObject(type.decode(bytes), DECODING) as LogEntry__Output;
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
  makeNode: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: MakeNode): LogEntry => ({
    ...base(timeUs, requestId),
    makeNode: op,
  }),
  link: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Link): LogEntry => ({ ...base(timeUs, requestId), link: op }),
  remove: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: Remove): LogEntry => ({ ...base(timeUs, requestId), remove: op }),
  renameAt: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: RenameAt): LogEntry => ({
    ...base(timeUs, requestId),
    renameAt: op,
  }),
  setNodeState: (timeUs: Int64Input, requestId: RequestIdInput | undefined, op: SetNodeState): LogEntry => ({
    ...base(timeUs, requestId),
    setNodeState: op,
  }),
  noop: (timeUs: Int64Input, requestId?: RequestIdInput): LogEntry => ({ ...base(timeUs, requestId), noop: {} }),
  /** Sub-entries built by the other builders; their own times are dropped (the batch's applies to all). */
  batch: (timeUs: Int64Input, subEntries: readonly LogEntry[]): LogEntry => ({
    ...base(timeUs, undefined),
    batch: { entries: subEntries.map(withoutTime) },
  }),
} as const;
