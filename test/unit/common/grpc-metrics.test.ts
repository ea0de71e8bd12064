import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { DfsError } from '../../../common/errors.js';
import { GrpcServerMetrics } from '../../../common/grpc-metrics.js';
import { startGrpcServer, stopGrpcServer, unary, type StartedServer } from '../../../common/grpc-server.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../../common/metrics.js';
import { parseExposition, total } from '../../harness/prometheus-text.js';
import { PLAINTEXT } from '../../../security/transport-security.js';

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
};

function method(name: string, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/test.Probe/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}

const PROBE = { Ok: method('Ok', false), Missing: method('Missing', false), Broken: method('Broken', false), Endless: method('Endless', true) };

type ProbeClient = grpc.Client & Record<'Ok' | 'Missing' | 'Broken', (req: unknown, cb: (err: grpc.ServiceError | null) => void) => void> & {
  Endless(req: unknown): grpc.ClientReadableStream<unknown>;
};

/** The interceptor on a real server and socket: every outcome counted once, with its status and error code. */
describe('gRPC server metrics', () => {
  let registry: MetricsRegistry;
  let started: StartedServer;
  let client: ProbeClient;

  before(async () => {
    registry = createMetricsRegistry({ processMetrics: false });
    started = await startGrpcServer(
      (server) =>
        server.addService(PROBE, {
          Ok: unary(async () => ({})),
          Missing: unary(async () => {
            throw new DfsError('NOT_FOUND', 'no such thing');
          }),
          Broken: unary(async () => {
            throw new Error('a bug');
          }),
          Endless: (call: grpc.ServerWritableStream<unknown, unknown>) => {
            const timer = setInterval(() => call.write({}), 5);
            call.on('cancelled', () => clearInterval(timer));
          },
        }),
      { host: '127.0.0.1', port: 0, maxMessageBytes: 1024 * 1024, largeWindow: false, security: PLAINTEXT, metrics: new GrpcServerMetrics(registry) },
    );
    const Client = grpc.makeGenericClientConstructor(PROBE, 'Probe');
    client = new Client(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure()) as unknown as ProbeClient;
  });

  after(async () => {
    client?.close();
    if (started) await stopGrpcServer(started.server);
  });

  const call = (name: 'Ok' | 'Missing' | 'Broken') =>
    new Promise<grpc.status>((resolve) => client[name]({}, (err) => resolve(err === null ? grpc.status.OK : err.code)));

  it('counts each status by service and method, errors by their DfsError code, and times every call', async () => {
    expect(await call('Ok')).to.equal(grpc.status.OK);
    expect(await call('Ok')).to.equal(grpc.status.OK);
    expect(await call('Missing')).to.equal(grpc.status.NOT_FOUND);
    expect(await call('Broken')).to.equal(grpc.status.INTERNAL);

    const stream = client.Endless({});
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.on('error', () => undefined);
    stream.cancel();

    const probe = { service: 'test.Probe' };
    const metrics = parseExposition(await registry.metrics());
    expect(total(metrics, 'dfs_grpc_server_handled_total', { ...probe, method: 'Ok', code: 'OK' })).to.equal(2);
    expect(total(metrics, 'dfs_grpc_server_handled_total', { ...probe, method: 'Missing', code: 'NOT_FOUND' })).to.equal(1);
    expect(total(metrics, 'dfs_grpc_server_errors_total', { ...probe, method: 'Missing', dfs_code: 'NOT_FOUND' })).to.equal(1);
    expect(total(metrics, 'dfs_grpc_server_handled_total', { ...probe, method: 'Broken', code: 'INTERNAL' })).to.equal(1);
    expect(total(metrics, 'dfs_grpc_server_errors_total', { ...probe, method: 'Broken', dfs_code: 'INTERNAL' })).to.equal(1);
    expect(total(metrics, 'dfs_grpc_server_errors_total', { ...probe, method: 'Ok' })).to.equal(0);
    await waitForCancel(registry);
    expect(total(metrics, 'dfs_grpc_server_handling_seconds_count', { ...probe, method: 'Ok' })).to.equal(2);
    expect(metrics.types.get('dfs_grpc_server_handling_seconds')).to.equal('histogram');
  });
});

/** The server learns of a client's cancel a moment after it is sent. */
async function waitForCancel(registry: MetricsRegistry): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const metrics = parseExposition(await registry.metrics());
    const where = { service: 'test.Probe', method: 'Endless' };
    if (total(metrics, 'dfs_grpc_server_handled_total', { ...where, code: 'CANCELLED' }) === 1) {
      // A cancel is the caller going away, not a failure of ours.
      expect(total(metrics, 'dfs_grpc_server_errors_total', where)).to.equal(0);
      expect(total(metrics, 'dfs_grpc_server_handling_seconds_count', where)).to.equal(1);
      return;
    }
    if (Date.now() > deadline) throw new Error('the cancelled stream was never counted');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
