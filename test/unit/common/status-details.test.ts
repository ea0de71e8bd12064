import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { DfsError } from '../../../common/errors.js';
import { STATUS_DETAILS_MAX_CHARS, toStatus } from '../../../common/grpc-errors.js';
import { PLAINTEXT } from '../../../security/transport-security.js';
import { startGrpcServer, stopGrpcServer, unary, type StartedServer } from '../../../common/grpc-server.js';

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
};
const ECHO = {
  Fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};

/**
 * Regression: a Rename whose source was a 256 KiB string (found by the fuzz
 * test) got no answer: the INVALID_ARGUMENT message quoted the path, the
 * trailer was larger than the client accepts, and the connection was dropped
 * with every call on it.
 */
describe('status details', () => {
  let started: StartedServer;
  let client: grpc.Client;

  before(async () => {
    started = await startGrpcServer(
      (server) =>
        server.addService(ECHO, {
          Fail: unary(async (request: unknown) => {
            throw new DfsError('INVALID_ARGUMENT', `path is not absolute: ${JSON.stringify((request as { path: string }).path)}`);
          }),
        }),
      { host: '127.0.0.1', port: 0, maxMessageBytes: 4 * 1024 * 1024, largeWindow: false, security: PLAINTEXT },
    );
    client = new grpc.Client(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await stopGrpcServer(started.server);
  });

  it('are cut to a bounded length, saying how long the message was', () => {
    const status = toStatus(new DfsError('INVALID_ARGUMENT', 'é'.repeat(300_000)));
    expect(status.details.length).to.be.below(STATUS_DETAILS_MAX_CHARS + 50);
    expect(status.details).to.match(/300000 characters in all\)$/);
    expect(toStatus(new DfsError('NOT_FOUND', 'short')).details).to.equal('short');
    // A lone surrogate (from a string field of invalid UTF-8, or a cut through a pair) would make grpc-js's encodeURI throw.
    expect(toStatus(new DfsError('NOT_FOUND', 'a\ud800b\ud83d\ude00')).details).to.equal('a\ufffdb\ud83d\ude00');
  });

  it('reach the client when the message quotes a huge request', async () => {
    for (const path of ['x'.repeat(256 * 1024), '\u00e9\ud83d\ude00'.repeat(100_000), '/a\ud800']) {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest('/test.Echo/Fail', json.serialize, json.deserialize, { path }, { deadline: Date.now() + 5_000 }, (e) => resolve(e)),
      );
      expect(err?.code, `${path.length} chars: ${err?.details}`).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).to.match(/^path is not absolute/);
    }
  });
});
