import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { PLAINTEXT } from '../../../security/transport-security.js';
import { startGrpcServer, stopGrpcServer, unary, type StartedServer } from '../../../common/grpc-server.js';

/** A request whose bytes are not JSON fails to decode, as a broken protobuf message does. */
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
};
const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

function method(name: string, requestStream: boolean): grpc.MethodDefinition<unknown, unknown> {
  return { path: `/test.Echo/${name}`, requestStream, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize };
}
const ECHO = { Echo: method('Echo', false), Count: method('Count', true) };

/** A call's status and dfs-code trailer. */
function statusOf(err: grpc.ServiceError | null): { code: grpc.status; dfs: unknown; details: string } {
  return { code: err?.code ?? grpc.status.OK, dfs: err?.metadata.get('dfs-code')[0], details: err?.details ?? '' };
}

/** Regression: undecodable request bytes were answered INTERNAL ("Error deserializing request") by grpc-js itself. */
describe('undecodable requests', () => {
  let started: StartedServer;
  let client: grpc.Client;
  let handled = 0;

  before(async () => {
    started = await startGrpcServer(
      (server) =>
        server.addService(ECHO, {
          Echo: unary(async (request: unknown) => {
            handled++;
            return request;
          }),
          Count: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
            let n = 0;
            call.on('data', () => n++);
            call.on('end', () => callback(null, { n }));
          },
        }),
      { host: '127.0.0.1', port: 0, maxMessageBytes: 1024 * 1024, largeWindow: false, security: PLAINTEXT },
    );
    client = new grpc.Client(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await stopGrpcServer(started.server);
  });

  const unaryCall = (bytes: Buffer) =>
    new Promise<ReturnType<typeof statusOf> & { response?: string }>((resolve) =>
      client.makeUnaryRequest('/test.Echo/Echo', raw.serialize, raw.deserialize, bytes, (err, response) =>
        resolve({ ...statusOf(err), ...(response ? { response: response.toString() } : {}) }),
      ),
    );

  it('answers INVALID_ARGUMENT with its code, and no handler runs', async () => {
    const before = handled;
    const got = await unaryCall(Buffer.from('{not json'));
    expect(got.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(got.dfs).to.equal('INVALID_ARGUMENT');
    expect(got.details).to.match(/\/test\.Echo\/Echo is not a valid message/);
    expect(handled).to.equal(before);
  });

  it('passes a valid request on', async () => {
    const got = await unaryCall(Buffer.from('{"a":1}'));
    expect(got.code).to.equal(grpc.status.OK);
    expect(got.response).to.equal('{"a":1}');
  });

  it('ends a stream at its first undecodable message', async () => {
    const got = await new Promise<ReturnType<typeof statusOf>>((resolve) => {
      const call = client.makeClientStreamRequest('/test.Echo/Count', raw.serialize, raw.deserialize, (err) => resolve(statusOf(err)));
      call.on('error', () => undefined);
      call.write(Buffer.from('{}'));
      call.write(Buffer.from('}'));
      call.write(Buffer.from('{}'));
      call.end();
    });
    expect(got.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(got.dfs).to.equal('INVALID_ARGUMENT');
  });
});
