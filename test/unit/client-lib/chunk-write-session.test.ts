import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ChunkWriteSession, type LeaseInfo } from '../../../client-lib/chunk-write-session.js';
import type { ChunkIo } from '../../../client-lib/chunk-io.js';
import { chunkHandle } from '../../../common/ids.js';
import { silentLogger } from '../../../common/logger.js';
import { decodeRawFrame } from '../../../proto/pipeline-frames.js';

/** A write stream that records what it carried and is acked or failed by the test. */
class FakeStream extends EventEmitter {
  frames: Buffer[] = [];
  write(frame: Buffer): boolean {
    this.frames.push(frame);
    return true;
  }
  end(): void {}
  cancel(): void {}
  /** Offsets of the packets carried, in order (the header first is skipped). */
  offsets(): number[] {
    return this.frames.slice(1).map((f) => Number(decodeRawFrame(f).frame!.packet!.offset));
  }
  ack(n: number): void {
    this.emit('data', { acked: String(n) });
  }
  fail(code: grpc.status, trailer: string): void {
    const metadata = new grpc.Metadata();
    metadata.set('dfs-code', trailer);
    this.emit('error', Object.assign(new Error(trailer), { code, details: trailer, metadata }));
  }
}

function harness() {
  const streams: FakeStream[] = [];
  let releaseLease: (() => void) | undefined;
  let holdLeases = false;
  const lease: LeaseInfo = { handle: chunkHandle(1), version: 1, primary: { id: 'p', address: 'p:1', zone: '', rack: '' }, expiresAtMs: Infinity, accessToken: '' };
  const io = {
    openWrite: () => {
      const s = new FakeStream();
      streams.push(s);
      return s;
    },
  } as unknown as ChunkIo;
  const session = new ChunkWriteSession(
    {
      io,
      lease: () => (holdLeases ? new Promise<LeaseInfo>((r) => (releaseLease = () => r(lease))) : Promise.resolve(lease)),
      clientId: 'c',
      retry: { initialMs: 1, maxMs: 1, deadlineMs: 10_000 },
      random: () => 0,
      logger: silentLogger,
    },
    chunkHandle(1),
  );
  return {
    session,
    streams,
    hold: () => (holdLeases = true),
    release: () => {
      holdLeases = false;
      releaseLease!();
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('client write session', () => {
  it('resends every unacknowledged packet, in order, on the stream that replaces a failed one', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.session.write(i * 10, Buffer.from('abc'));
    await tick();
    expect(h.streams[0]!.offsets()).to.deep.equal([0, 10, 20]);
    h.streams[0]!.ack(1);
    h.hold();
    h.streams[0]!.fail(grpc.status.ABORTED, 'CHAIN_FAILURE');
    await tick();
    // Packets queued while the new lease is on its way must reach the new stream too.
    await h.session.write(30, Buffer.from('abc'));
    await h.session.write(40, Buffer.from('abc'));
    h.release();
    await tick();
    await h.session.write(50, Buffer.from('abc'));
    const replacement = h.streams[1]!;
    expect(replacement.offsets()).to.deep.equal([10, 20, 30, 40, 50]);
    let flushed = false;
    const flush = h.session.flush().then(() => (flushed = true));
    replacement.ack(4);
    await tick();
    expect(flushed, 'one packet is still unacknowledged').to.equal(false);
    replacement.ack(5);
    await flush;
  });

  it('gives up on an error that no retry can fix, and says why', async () => {
    const h = harness();
    await h.session.write(0, Buffer.from('abc'));
    await tick();
    h.streams[0]!.fail(grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    try {
      await h.session.flush();
      expect.fail('flush must fail');
    } catch (err) {
      expect((err as { code: string }).code).to.equal('INVALID_ARGUMENT');
    }
    expect(h.streams).to.have.length(1);
  });
});
