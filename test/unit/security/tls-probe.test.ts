import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { startGrpcServer, stopGrpcServer } from '../../../common/grpc-server.js';
import { LIMITS } from '../../../common/limits.js';
import { speaksTls } from '../../../security/tls-probe.js';
import { PLAINTEXT } from '../../../security/transport-security.js';

describe('speaksTls (the TLS side is in the security integration test)', () => {
  it('is false for a plaintext gRPC server, a server that hangs up, a closed port and a bad address', async () => {
    const grpcServer = await startGrpcServer(() => undefined, { host: '127.0.0.1', port: 0, maxMessageBytes: LIMITS.metadataMessageMaxBytes, largeWindow: false, security: PLAINTEXT });
    const hangUp: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      expect(await speaksTls(`127.0.0.1:${grpcServer.port}`, 2_000)).to.equal(false);
      expect(await speaksTls(`127.0.0.1:${(hangUp.address() as { port: number }).port}`, 2_000)).to.equal(false);
      expect(await speaksTls(`127.0.0.1:${closedPort}`, 2_000)).to.equal(false);
      expect(await speaksTls('no-port', 2_000)).to.equal(false);
    } finally {
      await stopGrpcServer(grpcServer.server, 100);
      await new Promise<void>((resolve) => hangUp.close(() => resolve()));
    }
  });
});
