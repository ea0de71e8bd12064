import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import type { ProtoGrpcType as MasterProto } from './generated/master.js';
import type { ProtoGrpcType as ChunkserverProto } from './generated/chunkserver.js';

/** The .proto sources, beside this module's source (dist/proto -> proto). */
export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

/**
 * One set of conversion options for every decoder: 64-bit integers as decimal
 * strings, enums by name, every field present, oneofs named. The generated
 * types in proto/generated assume exactly these.
 */
export const CONVERSION = { longs: String, enums: String, defaults: true, oneofs: true } as const;

function load(file: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(join(PROTO_DIR, file), {
    keepCase: false,
    ...CONVERSION,
    includeDirs: [PROTO_DIR],
  });
  return grpc.loadPackageDefinition(definition);
}

let masterProto: MasterProto | undefined;
let chunkserverProto: ChunkserverProto | undefined;
let root: protobuf.Root | undefined;

export function masterServices(): MasterProto {
  masterProto ??= load('master.proto') as unknown as MasterProto;
  return masterProto;
}

export function chunkserverServices(): ChunkserverProto {
  chunkserverProto ??= load('chunkserver.proto') as unknown as ChunkserverProto;
  return chunkserverProto;
}

/** The protobufjs root of every .proto file, for messages encoded outside gRPC. */
export function protoRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
    r.loadSync(['common.proto', 'master.proto', 'chunkserver.proto', 'master-log.proto'], { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

/**
 * An encoder/decoder for one message type, with the same conversion as the
 * gRPC decoders. `Input` and `Output` are the generated interfaces.
 */
export interface MessageCodec<Input, Output> {
  encode(message: Input): Buffer;
  decode(bytes: Uint8Array): Output;
}

export function messageCodec<Input, Output>(fullName: string): MessageCodec<Input, Output> {
  const type = protoRoot().lookupType(fullName);
  return {
    encode(message: Input): Buffer {
      const encoded = type.encode(type.fromObject(message as Record<string, unknown>)).finish();
      return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    },
    decode(bytes: Uint8Array): Output {
      return type.toObject(type.decode(bytes), CONVERSION) as Output;
    },
  };
}
