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
import type { ChunkserverContext } from './chunkserver-context.js';
import type { RawFrame } from '../proto/pipeline-frames.js';
import { validatePacket } from './packet-validation.js';
import type { PrimaryChunk } from './primary-chunk.js';
import { handleCorruption } from './replica-problems.js';
import { StreamAcks } from './stream-acks.js';

/** Call metadata by which a Read says what it is for ("copy"; anything else is a client read). */
export const READ_PURPOSE_KEY = 'dfs-read-purpose';

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
    Append: unary<AppendRequest__Output, AppendResponse>(async (req) => {
      const handle = chunkHandle(requireInteger(req.handle, 'handle'));
      const version = chunkVersion(requireInteger(req.version, 'version'));
      const seq = requireInteger(req.seq, 'seq');
      if (!req.clientId || Buffer.byteLength(req.clientId) > LIMITS.clientIdMaxBytes || seq === 0) {
        throw new DfsError('INVALID_ARGUMENT', `an append needs a client id (1 to ${LIMITS.clientIdMaxBytes} bytes) and a positive sequence number`);
      }
      if (req.data.length > LIMITS.dataPacketMaxBytes) {
        throw new DfsError('TOO_LARGE', `a record may be at most ${LIMITS.dataPacketMaxBytes} bytes`);
      }
      if (crc32c(req.data) !== req.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'record does not match its checksum');
      const primary = primaryFor(ctx, handle, version);
      const offset = await primary.append(clientId(req.clientId), seq, req.data, req.dataCrc32c >>> 0, ctx.clock.nowMs());
      return { offset: String(offset) };
    }, (err) => ctx.logger.error({ err }, 'internal error in Append')),
  };
}

function primaryFor(ctx: ChunkserverContext, handle: ChunkHandle, version: ChunkVersion): PrimaryChunk {
  const primary = ctx.pipelines.primary(handle);
  if (primary === undefined) throw new DfsError('LEASE_EXPIRED', `this server holds no lease on chunk ${handle}`);
  if (primary.version !== version) {
    throw new DfsError('STALE_VERSION', `lease on chunk ${handle} is at version ${primary.version}, not ${version}`);
  }
  return primary;
}

async function serveRead(
  ctx: ChunkserverContext,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadResponse>,
): Promise<void> {
  let handle: ChunkHandle | undefined;
  ctx.load.activeReads++;
  try {
    const req = call.request;
    handle = chunkHandle(requireInteger(req.handle, 'handle'));
    const wanted = chunkVersion(requireInteger(req.version, 'version'));
    const offset = requireInteger(req.offset, 'offset');
    const length = requireInteger(req.length, 'length');
    const info = ctx.store.info(handle);
    if (info === undefined || ctx.inventory.version(handle) === undefined) {
      throw new DfsError('NOT_FOUND', `no replica of chunk ${handle} here`);
    }
    if (info.corrupt) throw new DfsError('CHECKSUM_MISMATCH', `replica of chunk ${handle} is corrupt`);
    if (info.version < wanted) {
      throw new DfsError('STALE_VERSION', `replica of chunk ${handle} is at version ${info.version}, below ${wanted}`);
    }
    const meta = { version: String(info.version), chunkLength: String(info.durableLength) };
    const end = Math.min(offset + length, info.durableLength);
    if (offset >= end) {
      call.write({ offset: String(offset), data: Buffer.alloc(0), dataCrc32c: 0, ...meta });
      call.end();
      return;
    }
    // A peer copying the chunk says so (control-service.ts), so that copies and client reads are counted apart.
    const counter = call.metadata.get(READ_PURPOSE_KEY)[0] === 'copy' ? ctx.metrics.copyOutBytes : ctx.metrics.clientReadBytes;
    let position = offset;
    while (position < end && !call.cancelled) {
      const data = await ctx.store.read(handle, position, Math.min(LIMITS.dataPacketMaxBytes, end - position));
      if (data.length === 0) break;
      const room = call.write({ offset: String(position), data, dataCrc32c: crc32c(data), ...meta });
      position += data.length;
      counter.inc(data.length);
      if (!room && position < end) await once(call, 'drain');
    }
    call.end();
  } catch (err) {
    if (handle !== undefined && isDfsError(err, 'CHECKSUM_MISMATCH')) void handleCorruption(ctx, handle);
    failStream(call, err);
  } finally {
    ctx.load.activeReads--;
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
