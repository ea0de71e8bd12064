import * as grpc from '@grpc/grpc-js';
import type { StreamEnding } from './fuzz-case.js';
import type { StreamShape } from './schema.js';

/**
 * Sends already-encoded request bytes on one method and reports how the
 * call ended. The client serializes nothing (identity serializers), so
 * bytes no protobuf encoder would produce reach the server as they are.
 */

export interface CallOutcome {
  /** grpc status code; OK for success. */
  code: grpc.status;
  details: string;
  /** The dfs-code trailer, when the server's handler sent one. */
  dfsCode: string | undefined;
  responses: number;
  elapsedMs: number;
  /** The call was cancelled by us (its ending), not by the server. */
  cancelledByUs: boolean;
}

const identity = (b: Buffer): Buffer => b;

export interface WireTarget {
  client: grpc.Client;
  /** Deadline of every call. */
  deadlineMs: number;
}

/** A client channel that may send more than any server accepts (oversize cases). */
export function wireClient(address: string, credentials: grpc.ChannelCredentials): grpc.Client {
  return new grpc.Client(address, credentials, {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.enable_retries': 0,
    'grpc.enable_channelz': 0,
  });
}

export function sendCall(target: WireTarget, path: string, shape: StreamShape, frames: Buffer[], ending: StreamEnding, metadata = new grpc.Metadata()): Promise<CallOutcome> {
  const started = Date.now();
  const deadline = new Date(started + target.deadlineMs);
  const c = target.client;
  return new Promise<CallOutcome>((resolve) => {
    let responses = 0;
    let cancelledByUs = false;
    let settled = false;
    let call: grpc.ClientUnaryCall | grpc.ClientReadableStream<Buffer> | grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>;
    const finish = (err: grpc.ServiceError | null): void => {
      if (settled) return;
      settled = true;
      const dfs = err?.metadata?.get('dfs-code')[0];
      resolve({
        code: err === null ? grpc.status.OK : err.code,
        details: err === null ? '' : err.details,
        dfsCode: typeof dfs === 'string' ? dfs : undefined,
        responses,
        elapsedMs: Date.now() - started,
        cancelledByUs,
      });
    };
    const cancel = (): void => {
      if (settled) return;
      cancelledByUs = true;
      call.cancel();
    };
    const onResponse = (): void => {
      responses++;
      if (ending.kind === 'cancel-after-first-response' && responses === 1) cancel();
    };
    const options: grpc.CallOptions = { deadline };
    switch (shape) {
      case 'unary':
        call = c.makeUnaryRequest(path, identity, identity, frames[0] ?? Buffer.alloc(0), metadata, options, (err) => {
          if (err === null) responses++;
          finish(err);
        });
        break;
      case 'client-stream': {
        const s = c.makeClientStreamRequest(path, identity, identity, metadata, options, (err) => {
          if (err === null) responses++;
          finish(err);
        });
        call = s;
        writeFrames(s, frames, ending, cancel);
        break;
      }
      case 'server-stream': {
        const s = c.makeServerStreamRequest(path, identity, identity, frames[0] ?? Buffer.alloc(0), metadata, options);
        call = s;
        s.on('data', onResponse);
        s.on('error', (err: grpc.ServiceError) => finish(err));
        s.on('end', () => setImmediate(() => finish(null)));
        if (ending.kind !== 'half-close') setTimeout(cancel, cancelAfterMs(ending));
        break;
      }
      case 'bidi': {
        const s = c.makeBidiStreamRequest(path, identity, identity, metadata, options);
        call = s;
        s.on('data', onResponse);
        s.on('error', (err: grpc.ServiceError) => finish(err));
        s.on('end', () => setImmediate(() => finish(null)));
        writeFrames(s, frames, ending, cancel);
        break;
      }
    }
  });
}

function writeFrames(s: grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, frames: Buffer[], ending: StreamEnding, cancel: () => void): void {
  // A server may end the call before every frame is written: writes after that fail quietly.
  s.on('error', () => undefined);
  for (const f of frames) s.write(f);
  if (ending.kind === 'half-close') s.end();
  else setTimeout(cancel, cancelAfterMs(ending));
}

/**
 * When a stream that is not half-closed is cancelled: at its time, or, when it
 * waits for a response, after a second without one (a server may rightly wait
 * for more of an open stream; that is the client's to end, not a hang).
 */
const FIRST_RESPONSE_WAIT_MS = 1_000;
function cancelAfterMs(ending: StreamEnding): number {
  return ending.kind === 'cancel' ? ending.afterMs : FIRST_RESPONSE_WAIT_MS;
}
