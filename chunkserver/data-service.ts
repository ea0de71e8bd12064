import type * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { failStream, unary } from '../common/grpc-server.js';
import { chunkHandle, chunkVersion, clientId, type ChunkHandle, type ChunkVersion } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import { requireInteger } from '../common/wire-validation.js';
import type { ReadRequest__Output } from '../proto/generated/dfs/chunk/ReadRequest.js';
import type { ReadResponse } from '../proto/generated/dfs/chunk/ReadResponse.js';
import type { WriteAck } from '../proto/generated/dfs/chunk/WriteAck.js';
import type { AppendRequest__Output } from '../proto/generated/dfs/chunk/AppendRequest.js';
import type { AppendResponse } from '../proto/generated/dfs/chunk/AppendResponse.js';
import type { LandedAppend } from './chunk-meta-db.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import type { RawFrame } from '../proto/pipeline-frames.js';
import { validatePacket } from './packet-validation.js';
import type { PrimaryChunk } from './primary-chunk.js';
import type { Import } from './import-registry.js';
import { reusableLength, type Lineage } from './lineage.js';
import { APPENDS_PER_FRAME, appendsToWire, lineageToWire, READ_PURPOSE_KEY } from './read-wire.js';
import { handleCorruption } from './replica-problems.js';
import { StreamAcks } from './stream-acks.js';

/**
 * The client-facing data RPCs: verified reads, the primary's end of the
 * write pipeline, and record append.
 */
export function dataHandlers(ctx: ChunkserverContext) {
  return {
    Read: (call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>) => {
      void serveRead(ctx, call);
    },
    Write: (call: grpc.ServerDuplexStream<RawFrame, WriteAck>) => serveWrite(ctx, call),
    Append: unary<AppendRequest__Output, AppendResponse>(
      async (req) => ({ offset: String(await appendRecord(ctx, req)) }),
      (err) => ctx.logger.error({ err }, 'internal error in Append'),
    ),
  };
}

/** A record append, by call or on a session: checks the request, and resolves with the record's offset in the chunk once it is durable on every replica. */
export async function appendRecord(ctx: ChunkserverContext, req: AppendRequest__Output): Promise<number> {
  const handle = chunkHandle(requireInteger(req.handle, 'handle'));
  const version = chunkVersion(requireInteger(req.version, 'version'));
  const seq = requireInteger(req.seq, 'seq');
  if (!req.clientId || Buffer.byteLength(req.clientId) > LIMITS.clientIdMaxBytes || seq === 0) {
    throw new DfsError('INVALID_ARGUMENT', `an append needs a client id (1 to ${LIMITS.clientIdMaxBytes} bytes) and a positive sequence number`);
  }
  if (req.data.length === 0) throw new DfsError('INVALID_ARGUMENT', 'an empty record cannot be appended');
  if (req.data.length > LIMITS.dataPacketMaxBytes) {
    throw new DfsError('TOO_LARGE', `a record may be at most ${LIMITS.dataPacketMaxBytes} bytes`);
  }
  if (crc32c(req.data) !== req.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'record does not match its checksum');
  const primary = primaryFor(ctx, handle, version);
  return primary.append(clientId(req.clientId), seq, req.data, req.dataCrc32c >>> 0, ctx.clock.nowMs());
}

function primaryFor(ctx: ChunkserverContext, handle: ChunkHandle, version: ChunkVersion): PrimaryChunk {
  const primary = ctx.pipelines.primary(handle);
  if (primary === undefined) throw new DfsError('LEASE_EXPIRED', `this server holds no lease on chunk ${handle}`);
  if (primary.version !== version) {
    throw new DfsError('STALE_VERSION', `lease on chunk ${handle} is at version ${primary.version}, not ${version}`);
  }
  return primary;
}

/** How long a follower waits for an expected import (a distribution task here) to begin before giving up on this source. */
const FOLLOW_START_WAIT_MS = 10_000;
/** How long a follower waits for this server to be given the chunk's task at all (it may be on its way from the master). */
const FOLLOW_TASK_WAIT_MS = 2_000;

interface ReadAsk {
  handle: ChunkHandle;
  version: ChunkVersion;
  offset: number;
  length: number;
  follow: boolean;
  /** Undefined: no base. */
  base: { version: ChunkVersion; length: number } | undefined;
  copy: boolean;
}

/**
 * Read: a client's (verified, clipped to the durable length) or a peer's
 * copy, which may carry a base (the source then sends from the first byte
 * the base does not share, with its lineage) and may follow an import still
 * arriving here (cut-through).
 */
async function serveRead(
  ctx: ChunkserverContext,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
): Promise<void> {
  let handle: ChunkHandle | undefined;
  ctx.load.activeReads++;
  const gone = new AbortController();
  call.on('cancelled', () => gone.abort());
  try {
    const ask = parseRead(call);
    handle = ask.handle;
    if (await serveIfHeld(ctx, call, ask, gone.signal)) return;
    // Not here whole at the version: a peer may follow it as it arrives (an older replica here is about to become its base).
    const imp = ask.follow ? await ctx.imports.follow(handle, ask.version, FOLLOW_START_WAIT_MS, gone.signal, FOLLOW_TASK_WAIT_MS) : undefined;
    if (imp !== undefined) {
      await serveImport(ctx, call, ask, imp, gone.signal);
      return;
    }
    // The import may have completed meanwhile.
    if (ask.follow && (await serveIfHeld(ctx, call, ask, gone.signal))) return;
    throw notHeld(ctx, handle, ask.version);
  } catch (err) {
    if (handle !== undefined && isDfsError(err, 'CHECKSUM_MISMATCH')) void handleCorruption(ctx, handle);
    failStream(call, err);
  } finally {
    ctx.load.activeReads--;
  }
}

/** Serves the read from a replica offered here at the version or newer; false if there is none. */
async function serveIfHeld(
  ctx: ChunkserverContext,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
  ask: ReadAsk,
  gone: AbortSignal,
): Promise<boolean> {
  const replica = heldReplica(ctx, ask.handle, ask.version);
  if (replica === undefined) return false;
  if (!ask.copy) ctx.heat.record(ask.handle);
  await serveHeld(ctx, call, ask, replica, gone);
  return true;
}

/** The replica offered here at `version` or newer, as one snapshot of its length; undefined if there is none. Throws CHECKSUM_MISMATCH if it is corrupt. */
export function heldReplica(ctx: ChunkserverContext, handle: ChunkHandle, version: ChunkVersion): { version: ChunkVersion; chunkLength: number; epoch: number } | undefined {
  const info = ctx.store.info(handle);
  if (info === undefined || ctx.inventory.version(handle) === undefined) return undefined;
  if (info.corrupt) throw new DfsError('CHECKSUM_MISMATCH', `replica of chunk ${handle} is corrupt`);
  if (info.version < version) return undefined;
  return { version: info.version, chunkLength: info.durableLength, epoch: info.epoch };
}

/** Why a read of `handle` at `version` finds nothing to serve here: an older replica (STALE_VERSION) or none (NOT_FOUND). */
export function notHeld(ctx: ChunkserverContext, handle: ChunkHandle, version: ChunkVersion): DfsError {
  const older = ctx.inventory.version(handle);
  if (older !== undefined) return new DfsError('STALE_VERSION', `replica of chunk ${handle} is at version ${older}, below ${version}`);
  return new DfsError('NOT_FOUND', `no replica of chunk ${handle} here`);
}

function parseRead(call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>): ReadAsk {
  const req = call.request;
  // A peer copying the chunk says so (chunk-fetch.ts), so that copies and client reads are counted apart.
  const copy = call.metadata.get(READ_PURPOSE_KEY)[0] === 'copy';
  const baseVersion = chunkVersion(requireInteger(req.baseVersion, 'base_version'));
  const baseLength = requireInteger(req.baseLength, 'base_length');
  if (!copy && (req.follow || baseVersion > 0)) throw new DfsError('INVALID_ARGUMENT', 'follow and base are for peers copying a chunk');
  return {
    handle: chunkHandle(requireInteger(req.handle, 'handle')),
    version: chunkVersion(requireInteger(req.version, 'version')),
    offset: requireInteger(req.offset, 'offset'),
    length: requireInteger(req.length, 'length'),
    follow: req.follow,
    base: baseVersion > 0 ? { version: baseVersion, length: baseLength } : undefined,
    copy,
  };
}

/** The range a read covers: with a base, from the first byte the base does not share to the end. */
function readRange(ask: ReadAsk, lineage: Lineage, chunkLength: number): { start: number; end: number; reuse: number } {
  if (ask.base === undefined) return { start: ask.offset, end: Math.min(ask.offset + ask.length, chunkLength), reuse: 0 };
  const reuse = reusableLength(lineage, chunkLength, ask.base.version, ask.base.length);
  return { start: reuse, end: chunkLength, reuse };
}

/** A replica held whole: one snapshot of its length; a copy fails if its history changes meanwhile (the copy's lineage would not describe its bytes). */
async function serveHeld(
  ctx: ChunkserverContext,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
  ask: ReadAsk,
  replica: { version: ChunkVersion; chunkLength: number; epoch: number },
  gone: AbortSignal,
): Promise<void> {
  const { version, chunkLength, epoch } = replica;
  const lineage = ctx.store.lineage(ask.handle)!;
  const { start, end, reuse } = readRange(ask, lineage, chunkLength);
  const meta = { version: String(version), chunkLength: String(chunkLength) };
  const firstMeta = ask.copy ? { ...meta, ...lineageToWire(lineage), reuseLength: String(reuse) } : meta;
  const sender = new FrameSender(ctx, call, ask.copy, gone);
  const appends = ask.copy ? ctx.store.appendsWithin(ask.handle, chunkLength) : [];
  if (start >= end) {
    await sender.send(start, Buffer.alloc(0), firstMeta);
  } else {
    for (let position = start; position < end && !call.cancelled; ) {
      const data = await ctx.store.read(ask.handle, position, Math.min(LIMITS.dataPacketMaxBytes, end - position), epoch);
      if (data.length === 0) break;
      await sender.send(position, data, position === start ? firstMeta : meta);
      position += data.length;
    }
  }
  if (ask.copy && ctx.store.lineage(ask.handle) !== lineage) {
    throw new DfsError('UNAVAILABLE', `chunk ${ask.handle} changed version or was written over during the copy`);
  }
  await sendAppends(sender, end, meta, appends);
  call.end();
}

/** The last frames of a copy: where record appends landed, in batches. */
async function sendAppends(sender: FrameSender, end: number, meta: { version: string; chunkLength: string }, appends: readonly LandedAppend[]): Promise<void> {
  for (let i = 0; i < appends.length; i += APPENDS_PER_FRAME) {
    await sender.send(end, Buffer.alloc(0), { ...meta, appends: appendsToWire(appends.slice(i, i + APPENDS_PER_FRAME)) });
  }
}

/** An import still arriving: bytes as they are written, waiting (on events) when caught up, to the announced end. */
async function serveImport(
  ctx: ChunkserverContext,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
  ask: ReadAsk,
  imp: Import,
  gone: AbortSignal,
): Promise<void> {
  const { start, end, reuse } = readRange(ask, imp.lineage, imp.expectedLength);
  const meta = { version: String(imp.version), chunkLength: String(imp.expectedLength) };
  const sender = new FrameSender(ctx, call, true, gone);
  // The first frame at once, data or not: the follower learns the length and lineage and starts its own import.
  await sender.send(start, Buffer.alloc(0), { ...meta, ...lineageToWire(imp.lineage), reuseLength: String(reuse) });
  const cancelled = new Promise<void>((resolve) => gone.addEventListener('abort', () => resolve(), { once: true }));
  const checkAlive = (): void => {
    if (imp.state === 'failed') throw new DfsError('UNAVAILABLE', `the import of chunk ${ask.handle} being followed failed`);
  };
  let position = start;
  while (position < end && !gone.aborted) {
    checkAlive();
    const available = Math.min(imp.frontier, end);
    if (position >= available) {
      await Promise.race([imp.changed(), cancelled]);
      continue;
    }
    const data = await ctx.store.readImport(ask.handle, imp.epoch, position, Math.min(LIMITS.dataPacketMaxBytes, available - position), available);
    // Read before a newer attempt replaced these bytes, or after: either way not for this follower.
    checkAlive();
    if (data.length === 0) throw new DfsError('UNAVAILABLE', `chunk ${ask.handle} shrank during the import`);
    await sender.send(position, data, meta);
    position += data.length;
  }
  // The landed appends arrive after the bytes: wait for the import to have them all.
  while (imp.state === 'receiving' && !gone.aborted) await Promise.race([imp.changed(), cancelled]);
  if (gone.aborted) return;
  checkAlive();
  await sendAppends(sender, end, meta, imp.appends);
  call.end();
}

/** Writes frames with their checksum, counts them by purpose, and waits for the stream to drain (backpressure). */
class FrameSender {
  constructor(
    private readonly ctx: ChunkserverContext,
    private readonly call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
    private readonly copy: boolean,
    /** The reader went away: a wait for the stream to drain ends (it may never drain). */
    private readonly gone: AbortSignal,
  ) {}

  async send(offset: number, data: Buffer, meta: Omit<ReadResponse, 'offset' | 'data' | 'dataCrc32c'>): Promise<void> {
    const room = this.call.write({ offset: String(offset), data, dataCrc32c: crc32c(data), ...meta });
    if (this.copy) {
      this.ctx.metrics.copyOutBytes.inc(data.length);
      this.ctx.transfers.copyOutBytes += data.length;
    } else {
      this.ctx.metrics.clientReadBytes.inc(data.length);
    }
    if (!room && !this.gone.aborted) await once(this.call, 'drain', { signal: this.gone });
  }
}

function serveWrite(ctx: ChunkserverContext, call: grpc.ServerDuplexStream<RawFrame, WriteAck>): void {
  let primary: PrimaryChunk | undefined;
  let last: Promise<void> = Promise.resolve();
  let failed = false;
  let counted = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    failStream(call, err);
  };
  const acks = new StreamAcks(call, () => failed, fail);
  const release = () => {
    if (counted) ctx.load.activeWrites--;
    counted = false;
  };
  call.on('data', (raw: RawFrame) => {
    if (failed) return;
    try {
      const frame = raw.frame;
      if (frame === undefined) throw new DfsError('INVALID_ARGUMENT', 'malformed pipeline frame');
      if (primary === undefined) {
        if (frame.frame !== 'header' || !frame.header) throw new DfsError('INVALID_ARGUMENT', 'a write stream starts with a header');
        const handle = chunkHandle(requireInteger(frame.header.handle, 'header.handle'));
        primary = primaryFor(ctx, handle, chunkVersion(requireInteger(frame.header.version, 'header.version')));
        primary.check(ctx.clock.nowMs());
        ctx.load.activeWrites++;
        counted = true;
        return;
      }
      if (frame.frame !== 'packet' || !frame.packet) throw new DfsError('INVALID_ARGUMENT', 'only one header per write stream');
      const packet = validatePacket(frame.packet, ctx.chunkSizeBytes());
      if (packet.kind !== 'write' && packet.kind !== 'truncate') {
        throw new DfsError('INVALID_ARGUMENT', 'clients send WRITE and TRUNCATE packets; appends use Append');
      }
      last = acks.track(primary.submit(raw.bytes, packet, ctx.clock.nowMs()), primary.pipeline);
    } catch (err) {
      fail(err);
    }
  });
  call.on('end', () => {
    void last.then(() => {
      release();
      if (!failed) call.end();
    });
  });
  call.on('cancelled', release);
  call.on('error', release);
}
