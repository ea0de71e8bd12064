import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { messageCodec } from './load.js';
import type { PipelineFrame, PipelineFrame__Output } from './generated/dfs/chunk/PipelineFrame.js';
import type { WriteAck, WriteAck__Output } from './generated/dfs/chunk/WriteAck.js';

/**
 * Pipeline frames travel as raw bytes: a chunkserver decodes a frame to check
 * it, then forwards the very bytes it received to the next replica, never
 * re-encoding the data (STACK-NOTES.md: re-encoding at every hop costs ~20%).
 * These definitions swap the generated (de)serializers of the two streaming
 * write methods for ones that keep the bytes.
 */
export interface RawFrame {
  bytes: Buffer;
  /** undefined when the bytes are not a valid frame. */
  frame: PipelineFrame__Output | undefined;
}

const frameCodec = messageCodec<PipelineFrame, PipelineFrame__Output>('dfs.chunk.PipelineFrame');

export function encodeFrame(frame: PipelineFrame): Buffer {
  return frameCodec.encode(frame);
}

export function decodeRawFrame(bytes: Buffer): RawFrame {
  try {
    return { bytes, frame: frameCodec.decode(bytes) };
  } catch {
    // Malformed input is answered by the handler with INVALID_ARGUMENT.
    return { bytes, frame: undefined };
  }
}

const RAW_METHODS = ['Write', 'Pipeline'] as const;

/** The server side: handlers of Write/Pipeline receive RawFrame. */
export function rawFrameServerDefinition(service: ServiceDefinition): ServiceDefinition {
  const copy: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...service };
  for (const name of RAW_METHODS) {
    const method = copy[name];
    if (method !== undefined) copy[name] = { ...method, requestDeserialize: decodeRawFrame };
  }
  return copy as ServiceDefinition;
}

/** A duplex write stream whose requests are already-encoded frames. */
export type RawFrameStream = grpc.ClientDuplexStream<Buffer, WriteAck__Output>;

export interface RawPipelineClient extends grpc.Client {
  Write(metadata?: grpc.Metadata, options?: grpc.CallOptions): RawFrameStream;
  Pipeline(metadata?: grpc.Metadata, options?: grpc.CallOptions): RawFrameStream;
}

/** The client side: Write/Pipeline take Buffers produced by encodeFrame (or received raw). */
export function rawFrameClientConstructor(
  service: ServiceDefinition,
  serviceName: string,
): new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => RawPipelineClient {
  const copy: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...service };
  for (const name of RAW_METHODS) {
    const method = copy[name];
    if (method !== undefined) copy[name] = { ...method, requestSerialize: (b: unknown) => b as Buffer };
  }
  return grpc.makeGenericClientConstructor(copy, serviceName) as unknown as new (
    address: string,
    credentials: grpc.ChannelCredentials,
    options?: grpc.ChannelOptions,
  ) => RawPipelineClient;
}

export type { WriteAck };
