import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { fromGrpcError } from '../../common/grpc-errors.js';

/** A raw call that must fail: the gRPC status on the wire and the code in its trailer. */
export async function expectStatus(call: () => Promise<unknown>, status: grpc.status, code: string): Promise<void> {
  let caught: unknown;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).to.not.equal(undefined);
  const error = fromGrpcError(caught);
  const wire = (error.cause as grpc.ServiceError | undefined)?.code;
  expect(wire, `gRPC status for ${code}: ${error.message}`).to.equal(status);
  expect(error.code, error.message).to.equal(code);
}
