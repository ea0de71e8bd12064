import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { CONVERSION, PROTO_DIR, type MessageCodec } from '../../proto/load.js';
import type { ProtoGrpcType } from '../../proto/generated/raft.js';

/** raft.proto, loaded the same way proto/load.ts loads the other services. */
let services: ProtoGrpcType | undefined;
let root: protobuf.Root | undefined;

export function raftServices(): ProtoGrpcType {
  if (services === undefined) {
    const definition = protoLoader.loadSync(join(PROTO_DIR, 'raft.proto'), { keepCase: false, ...CONVERSION, includeDirs: [PROTO_DIR] });
    services = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return services;
}

function raftRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
    r.loadSync(['raft.proto'], { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

/** A codec for one dfs.raft message, for bytes written outside gRPC (LevelDB, snapshot envelopes). */
export function raftCodec<Input, Output>(name: string): MessageCodec<Input, Output> {
  const type = raftRoot().lookupType(`dfs.raft.${name}`);
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
