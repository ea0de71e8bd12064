import * as grpc from '@grpc/grpc-js';
import type { DfsError } from './errors.js';
import { fromGrpcError } from './grpc-errors.js';

type ClientConstructor<C extends grpc.Client> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => C;

/**
 * One gRPC client per remote address, created on first use and reused: a
 * channel per call would cost a TCP and HTTP/2 handshake each time.
 */
export class ClientPool<C extends grpc.Client> {
  private readonly clients = new Map<string, C>();

  constructor(
    private readonly ctor: ClientConstructor<C>,
    private readonly options: grpc.ChannelOptions,
    private readonly credentials: grpc.ChannelCredentials,
  ) {}

  get(address: string): C {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new this.ctor(address, this.credentials, this.options);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Drops a client whose peer is gone, so the next call reconnects afresh. */
  evict(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The request and response types of a generated unary method (its last overload is `(argument, callback)`). */
type UnaryRequest<F> = F extends (argument: infer Req, callback: grpc.requestCallback<infer _Res>) => grpc.ClientUnaryCall ? Req : never;
type UnaryResponse<F> = F extends (argument: infer _Req, callback: grpc.requestCallback<infer Res>) => grpc.ClientUnaryCall ? Res : never;
type UnaryMethodName<C> = { [K in keyof C]: UnaryRequest<C[K]> extends never ? never : K }[keyof C];

/** Calls a unary method as a promise with a deadline; failures become DfsErrors. */
export function callUnary<C extends grpc.Client, K extends UnaryMethodName<C>>(
  client: C,
  method: K,
  request: UnaryRequest<C[K]>,
  timeoutMs: number,
  metadata = new grpc.Metadata(),
): Promise<UnaryResponse<C[K]>> {
  const fn = client[method] as unknown as (
    req: unknown,
    md: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: unknown) => void,
  ) => grpc.ClientUnaryCall;
  return new Promise((resolve, reject) => {
    fn.call(client, request, metadata, { deadline: Date.now() + timeoutMs }, (err, response) => {
      if (err) reject(fromGrpcError(err) satisfies DfsError);
      else resolve(response as UnaryResponse<C[K]>);
    });
  });
}
