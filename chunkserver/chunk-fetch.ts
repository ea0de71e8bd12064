import * as grpc from '@grpc/grpc-js';
import { crc32c } from '../common/crc32c.js';
import { DfsError, isDfsError } from '../common/errors.js';
import { fromGrpcError } from '../common/grpc-errors.js';
import { chunkVersion, type ChunkHandle, type ChunkVersion } from '../common/ids.js';
import type { CounterCell } from '../common/metrics.js';
import { requireInteger } from '../common/wire-validation.js';
import type { ServerRef__Output } from '../proto/generated/dfs/ServerRef.js';
import type { ReadRequest } from '../proto/generated/dfs/chunk/ReadRequest.js';
import type { ReadResponse__Output } from '../proto/generated/dfs/chunk/ReadResponse.js';
import type { ChunkserverContext } from './chunkserver-context.js';
import { Import } from './import-registry.js';
import { checkLineage, sameLineage } from './lineage.js';
import { appendsFromWire, lineageFromWire, READ_PURPOSE_KEY } from './read-wire.js';

/** A source that sends nothing for this long is given up (a followed source waits on its own source, which has the same bound). */
const STALL_MS = 30_000;
/** Writes in flight per fetch: the disk keeps pace without the fetch buffering the chunk. */
const WRITES_IN_FLIGHT = 8;

export interface FetchOptions {
  handle: ChunkHandle;
  /** Sources must be at this version or newer; a followed source, still receiving, exactly at it. */
  version: ChunkVersion;
  /** Tried in order; each continues where the one before failed when it can vouch for what is here. */
  sources: readonly ServerRef__Output[];
  /** Ask sources that are still receiving the chunk to stream it as it arrives (cut-through). */
  follow: boolean;
  /** When every source fails: keep what arrived as the base of the next fetch (true), or delete it. */
  keepPartial: boolean;
  signal?: AbortSignal;
  /** Counts bytes received over the network, beside the copy counters every fetch moves. */
  fetchedBytes?: CounterCell;
  /** Bytes of the wanted version in place here so far (reused ones included). */
  onProgress?: (bytes: number) => void;
}

export interface Fetched {
  version: ChunkVersion;
  length: number;
  /** Bytes kept from the replica that was here (deltas). */
  reused: number;
  /** Bytes received over the network. */
  fetched: number;
  /** The replica was already here at the version: nothing moved. */
  alreadyHeld: boolean;
}

/**
 * Fetches a chunk into this server and offers it once it is whole,
 * verified and durable: the one way chunks arrive by copy (CopyChunk from
 * the master, and distribution tasks). Only one fetch per chunk runs; a
 * newer one aborts the older and starts from what it left.
 */
export function fetchChunk(ctx: ChunkserverContext, options: FetchOptions): Promise<Fetched> {
  const controller = new AbortController();
  const outer = options.signal;
  const forward = (): void => controller.abort(outer!.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  return ctx.imports
    .exclusive(options.handle, options.version, controller, () => new ChunkFetch(ctx, options, controller.signal).run())
    .finally(() => outer?.removeEventListener('abort', forward));
}

/**
 * One fetch. What the store holds for the chunk is always one of: nothing;
 * a whole replica of an older version (the base of a delta, withdrawn from
 * the inventory while it is used); or an import holding bytes [0, n) of one
 * version. Each source is asked with that as its base, and answers from the
 * first byte it cannot vouch for (reuse_length); the import is cut there and
 * continues. So a source failing mid-stream costs nothing when the next one
 * is at the same version, and only the changed bytes when it is newer.
 */
class ChunkFetch {
  private base: { version: ChunkVersion; length: number } | undefined;
  private imp: Import | undefined;
  /** Next offset to write (writes in flight end here; `imp.frontier` is where completed ones end). */
  private position = 0;
  private reused = 0;
  private fetched = 0;
  private writes: Promise<void>[] = [];
  private lastAdvance: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ChunkserverContext,
    private readonly options: FetchOptions,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<Fetched> {
    const { ctx, options } = this;
    const held = await ctx.chunkLocks.run(options.handle, () => this.prepare());
    if (held !== undefined) return held;
    ctx.load.activeCopies++;
    try {
      let lastError: unknown;
      for (const source of options.sources) {
        if (this.signal.aborted) break;
        try {
          await this.fromSource(source);
          return await this.finish(source);
        } catch (err) {
          if (this.signal.aborted) break;
          lastError = err;
          ctx.logger.warn({ handle: options.handle, source: source.address, at: this.imp?.frontier, err: (err as Error).message }, 'fetch from source failed');
          await this.afterFailure();
        }
      }
      await this.giveUp();
      if (this.signal.aborted) throw toDfsError(this.signal.reason);
      throw new DfsError('UNAVAILABLE', `no source could provide chunk ${options.handle}`, { cause: lastError });
    } finally {
      ctx.load.activeCopies--;
    }
  }

  /** Under the chunk's lock: done if the replica is here already, else what can serve as the base. */
  private async prepare(): Promise<Fetched | undefined> {
    const { ctx, options } = this;
    const { handle } = options;
    const info = ctx.store.info(handle);
    if (info === undefined) return undefined;
    const offered = ctx.inventory.version(handle);
    if (offered !== undefined && !info.corrupt && info.version >= options.version) {
      return { version: info.version, length: info.durableLength, reused: 0, fetched: 0, alreadyHeld: true };
    }
    if (info.corrupt) {
      await ctx.pipelines.replace(handle, undefined, new DfsError('CHECKSUM_MISMATCH', `replica of chunk ${handle} is corrupt`));
      await ctx.inventory.remove(handle);
      return undefined;
    }
    if (offered !== undefined) {
      // An older version: no longer offered while it turns into the new one.
      await ctx.pipelines.replace(handle, undefined, new DfsError('STALE_VERSION', `chunk ${handle} is being replaced by version ${options.version}`));
      ctx.inventory.withdraw(handle);
    }
    // An import left by an earlier fetch holds every byte it wrote (they all completed, or it was deleted as corrupt).
    const length = info.importing ? info.length : info.durableLength;
    if (info.version > 0 && length > 0) this.base = { version: info.version, length };
    return undefined;
  }

  private async fromSource(source: ServerRef__Output): Promise<void> {
    const { ctx, options } = this;
    const purpose = new grpc.Metadata();
    purpose.set(READ_PURPOSE_KEY, 'copy');
    const request: ReadRequest = {
      handle: String(options.handle),
      version: String(options.version),
      offset: '0',
      length: String(ctx.chunkSizeBytes()),
      follow: options.follow,
      baseVersion: String(this.base?.version ?? 0),
      baseLength: String(this.base?.length ?? 0),
    };
    const call = ctx.peerData(source.address).Read(request, purpose);
    let stalled = false;
    const cancel = (): void => call.cancel();
    this.signal.addEventListener('abort', cancel, { once: true });
    let timer = setTimeout(() => ((stalled = true), call.cancel()), STALL_MS);
    try {
      let first = true;
      for await (const frame of call as AsyncIterable<ReadResponse__Output>) {
        clearTimeout(timer);
        timer = setTimeout(() => ((stalled = true), call.cancel()), STALL_MS);
        if (first) await this.begin(frame, source);
        first = false;
        await this.take(frame);
      }
      if (first) throw new DfsError('UNAVAILABLE', `${source.address} sent nothing`);
      await this.drain();
      const expected = this.imp!.expectedLength;
      if (this.position !== expected) throw new DfsError('UNAVAILABLE', `${source.address} ended at ${this.position} of ${expected} bytes`);
    } catch (err) {
      if (stalled) throw new DfsError('UNAVAILABLE', `${source.address} sent nothing for ${STALL_MS} ms`, { cause: err });
      throw toDfsError(err);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  /** The first frame: which version, how long, what of the base it vouches for; continue the import or start one. */
  private async begin(frame: ReadResponse__Output, source: ServerRef__Output): Promise<void> {
    const { ctx, options } = this;
    const version = chunkVersion(requireInteger(frame.version, 'version'));
    if (version < options.version) throw new DfsError('STALE_VERSION', `${source.address} is at version ${version}, below ${options.version}`);
    const expected = requireInteger(frame.chunkLength, 'chunk_length');
    if (expected > ctx.chunkSizeBytes()) throw new DfsError('INVALID_ARGUMENT', `${source.address} announced ${expected} bytes, more than a chunk`);
    const lineage = checkLineage(lineageFromWire(frame.lineage, frame.overwrittenFrom), version);
    const reuse = requireInteger(frame.reuseLength, 'reuse_length');
    if (reuse > (this.base?.length ?? 0) || reuse > expected) {
      throw new DfsError('INVALID_ARGUMENT', `${source.address} reuses ${reuse} bytes of a ${this.base?.length ?? 0}-byte base`);
    }
    const imp = this.imp;
    if (imp !== undefined && imp.state === 'receiving' && imp.version === version && imp.expectedLength === expected && sameLineage(imp.lineage, lineage) && reuse === imp.frontier) {
      // The same bytes from another holder: followers read on undisturbed.
      return;
    }
    imp?.fail();
    if (ctx.store.info(options.handle) !== undefined) {
      await ctx.store.reimport(options.handle, version, reuse);
    } else if (reuse === 0) {
      await ctx.store.create(options.handle, version, { importing: true });
    } else {
      this.base = undefined;
      throw new DfsError('UNAVAILABLE', `the base of chunk ${options.handle} was deleted during the fetch`);
    }
    const next = new Import(options.handle, version, ctx.store.info(options.handle)!.epoch, expected, lineage, reuse);
    this.imp = next;
    ctx.imports.begin(next);
    this.position = reuse;
    this.reused = reuse;
    ctx.metrics.deltaReusedBytes.inc(reuse);
    ctx.logger.debug({ handle: options.handle, version, expected, reuse, source: source.address }, 'import began');
    options.onProgress?.(reuse);
  }

  /** One frame: in order, within the chunk, matching its checksum; written with a bounded window in flight. */
  private async take(frame: ReadResponse__Output): Promise<void> {
    const imp = this.imp!;
    if (requireInteger(frame.version, 'version') !== imp.version) throw new DfsError('INVALID_ARGUMENT', 'version changed within a copy');
    if (frame.appends.length > 0) imp.addAppends(appendsFromWire(frame.appends, imp.expectedLength));
    if (frame.data.length === 0) return;
    if (requireInteger(frame.offset, 'offset') !== this.position) {
      throw new DfsError('INVALID_ARGUMENT', `frame at offset ${frame.offset}, expected ${this.position}`);
    }
    if (this.position + frame.data.length > imp.expectedLength) throw new DfsError('INVALID_ARGUMENT', 'frame past the announced length');
    if (crc32c(frame.data) !== frame.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'copied frame failed its checksum');
    const { ctx, options } = this;
    const end = this.position + frame.data.length;
    const written = ctx.store.write(options.handle, this.position, frame.data);
    // The frontier moves in offset order, whatever order the writes complete in.
    const advanced = Promise.all([this.lastAdvance, written]).then(() => {
      imp.advance(end);
      options.onProgress?.(end);
    });
    advanced.catch(() => undefined);
    this.lastAdvance = advanced;
    this.writes.push(advanced);
    this.position = end;
    this.fetched += frame.data.length;
    ctx.metrics.copyInBytes.inc(frame.data.length);
    options.fetchedBytes?.inc(frame.data.length);
    if (this.writes.length >= WRITES_IN_FLIGHT) await this.writes.shift();
  }

  private async drain(): Promise<void> {
    const writes = this.writes;
    this.writes = [];
    await Promise.all(writes);
  }

  /** Every byte is here: durable, then offered; followers read to the end. */
  private async finish(source: ServerRef__Output): Promise<Fetched> {
    const { ctx, options } = this;
    const imp = this.imp!;
    await ctx.chunkLocks.run(options.handle, async () => {
      this.signal.throwIfAborted();
      // Durable with the bytes: a retried append must find its first offset here too.
      for (const a of imp.appends) ctx.store.recordAppend(options.handle, a.clientId, a.seq, a.offset, a.length);
      await ctx.store.sync(options.handle);
      await ctx.inventory.finishImport(options.handle, imp.version, imp.lineage);
    });
    imp.complete();
    ctx.imports.end(imp);
    ctx.logger.info(
      { handle: options.handle, version: imp.version, length: imp.expectedLength, reused: this.reused, fetched: this.fetched, source: source.address },
      'chunk fetched',
    );
    return { version: imp.version, length: imp.expectedLength, reused: this.reused, fetched: this.fetched, alreadyHeld: false };
  }

  /**
   * A source failed: once the writes in flight have settled, what is here is
   * bytes [0, frontier) of the import's version, the base for the next one;
   * unless a write failed (the replica is corrupt), then nothing is.
   */
  private async afterFailure(): Promise<void> {
    await Promise.allSettled(this.writes);
    this.writes = [];
    await this.lastAdvance.catch(() => undefined);
    this.lastAdvance = Promise.resolve();
    const { ctx, options } = this;
    const info = ctx.store.info(options.handle);
    if (this.imp === undefined && !info?.corrupt) {
      if (info === undefined) this.base = undefined;
      return;
    }
    if (this.imp === undefined || info === undefined || info.corrupt || info.epoch !== this.imp.epoch || this.position !== this.imp.frontier) {
      this.dropImport();
      if (info !== undefined) await ctx.store.delete(options.handle);
      this.base = undefined;
      return;
    }
    this.base = { version: this.imp.version, length: this.imp.frontier };
  }

  /** Every source failed (or the fetch was aborted): keep or delete what arrived; a base never touched is offered again. */
  private async giveUp(): Promise<void> {
    const { ctx, options } = this;
    this.dropImport();
    await Promise.allSettled(this.writes);
    await ctx.chunkLocks.run(options.handle, async () => {
      const info = ctx.store.info(options.handle);
      if (info === undefined || ctx.inventory.version(options.handle) !== undefined) return;
      if (!info.importing && !info.corrupt) ctx.inventory.reoffer(options.handle);
      else if (info.corrupt || !(options.keepPartial || this.signal.aborted)) await ctx.store.delete(options.handle);
    });
  }

  private dropImport(): void {
    if (this.imp === undefined) return;
    this.imp.fail();
    this.ctx.imports.end(this.imp);
    this.imp = undefined;
  }
}

function toDfsError(err: unknown): DfsError {
  return isDfsError(err) ? err : fromGrpcError(err);
}
