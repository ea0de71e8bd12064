import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { LIMITS } from '../../../common/limits.js';
import { dataChannelOptions, startGrpcServer, stopGrpcServer, type StartedServer } from '../../../common/grpc-server.js';
import { chunkserverServices } from '../../../proto/load.js';
import { rawFrameClientConstructor, rawFrameServerDefinition, type RawFrame, encodeFrame } from '../../../proto/pipeline-frames.js';
import { PLAINTEXT } from '../../../security/transport-security.js';

/**
 * The data path depends on the server's HTTP/2 receive window being raised
 * through grpc-js internals (common/grpc-server.ts). If a grpc-js upgrade
 * moves them, this test fails instead of throughput silently halving.
 */
describe('gRPC data window', () => {
  let started: StartedServer | undefined;
  afterEach(async () => {
    if (started) await stopGrpcServer(started.server);
    started = undefined;
  });

  /** Bytes a client gets onto the wire within `waitMs` while the server reads nothing. */
  async function bytesAcceptedWithoutReading(largeWindow: boolean, waitMs = 700): Promise<number> {
    const services = chunkserverServices().dfs.chunk;
    started = await startGrpcServer(
      (s) => {
        s.addService(rawFrameServerDefinition(services.ChunkData.service), {
          // Never reads: whatever gets through is what flow control allowed.
          Write: (call: grpc.ServerDuplexStream<RawFrame, unknown>) => call.pause(),
          Read: () => undefined,
          Append: () => undefined,
        });
      },
      { host: '127.0.0.1', port: 0, maxMessageBytes: LIMITS.dataMessageMaxBytes, largeWindow, security: PLAINTEXT },
    );
    const Client = rawFrameClientConstructor(services.ChunkData.service, 'ChunkData');
    const client = new Client(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure(), dataChannelOptions());
    const stream = client.Write();
    stream.on('error', () => undefined);
    const frame = encodeFrame({ packet: { kind: 'PACKET_KIND_WRITE', offset: '0', data: Buffer.alloc(256 * 1024) } });
    let accepted = 0;
    // A write's callback fires once HTTP/2 has sent it, which flow control allows only within the window.
    for (let i = 0; i < 96; i++) stream.write(frame, () => (accepted += frame.length));
    await new Promise((r) => setTimeout(r, waitMs));
    stream.cancel();
    client.close();
    return accepted;
  }

  it('raises the receive window on every server session of the data path', async () => {
    await bytesAcceptedWithoutReading(true, 200);
    expect(started!.tunedSessions()).to.be.greaterThan(0);
  });

  it('lets a stream carry megabytes ahead of a slow reader, where the default window allows ~64 KiB', async () => {
    const tuned = await bytesAcceptedWithoutReading(true);
    await stopGrpcServer(started!.server);
    started = undefined;
    const untuned = await bytesAcceptedWithoutReading(false);
    expect(tuned).to.be.greaterThan(8 * 1024 * 1024);
    expect(untuned).to.be.lessThan(1024 * 1024);
  });
});
