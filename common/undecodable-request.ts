import * as grpc from '@grpc/grpc-js';
import { DfsError } from './errors.js';
import { toStatus } from './grpc-errors.js';

/**
 * Request bytes that are not a message of the method's type are the
 * sender's mistake, so they get INVALID_ARGUMENT. grpc-js answers a
 * deserializer that throws with INTERNAL, which says the opposite; so every
 * service's deserializers are wrapped to return this marker instead, and one
 * server interceptor answers the marker before any handler sees it.
 */
export class UndecodableRequest {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}
}

/** The same service, whose request deserializers never throw. */
export function tolerantServiceDefinition(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const copy: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    const decode = method.requestDeserialize;
    copy[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(method.path, err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return copy as grpc.ServiceDefinition;
}

/**
 * Ends a call whose request did not decode with INVALID_ARGUMENT; passes
 * every other message on. A streaming handler does not learn that its call
 * ended here and may still write answers to requests it received before
 * (a session): once the status is sent, nothing more goes out, since a
 * message after the status breaks the peer's HTTP/2 stream.
 */
export function undecodableRequestInterceptor(): grpc.ServerInterceptor {
  return (_descriptor, call) => {
    let ended = false;
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message: unknown, nextMessage: (m: unknown) => void) => {
            if (!(message instanceof UndecodableRequest)) return nextMessage(message);
            intercepting.sendStatus(toStatus(new DfsError('INVALID_ARGUMENT', `the request to ${message.path} is not a valid message: ${message.reason}`)));
          },
        }),
      sendMessage: (message, next) => {
        if (!ended) next(message);
      },
      sendStatus: (status, next) => {
        if (ended) return;
        ended = true;
        next(status);
      },
    });
    return intercepting;
  };
}
