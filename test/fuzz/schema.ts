import protobuf from 'protobufjs';
import { join } from 'node:path';
import { PROTO_DIR } from '../../proto/load.js';

/**
 * Every service the cluster serves, read from the .proto files by reflection,
 * so a method added to a .proto is fuzzed without touching this folder.
 */

/** Which kind of process serves a service. */
export type ServerKind = 'master' | 'chunkserver';

export type StreamShape = 'unary' | 'server-stream' | 'client-stream' | 'bidi';

export interface FuzzMethod {
  /** dfs.master.Metadata */
  service: string;
  /** Mkdir */
  name: string;
  /** /dfs.master.Metadata/Mkdir: the HTTP/2 path a call is sent on. */
  path: string;
  /** dfs.master.Metadata.Mkdir, for tables and seeds. */
  fullName: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  shape: StreamShape;
  server: ServerKind;
}

/** The services the fuzz must cover, and who serves each. */
export const FUZZED_SERVICES: Readonly<Record<string, ServerKind>> = {
  'dfs.master.Metadata': 'master',
  'dfs.master.Registry': 'master',
  'dfs.master.Admin': 'master',
  'dfs.raft.RaftTransport': 'master',
  'dfs.chunk.ChunkData': 'chunkserver',
  'dfs.chunk.ChunkReplication': 'chunkserver',
  'dfs.chunk.ChunkControl': 'chunkserver',
};

let root: protobuf.Root | undefined;

/** One root over every .proto file (proto/load.ts's leaves raft.proto out). */
export function fuzzRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
    r.loadSync(['common.proto', 'master.proto', 'chunkserver.proto', 'raft.proto'], { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

function shapeOf(m: protobuf.Method): StreamShape {
  if (m.requestStream === true) return m.responseStream === true ? 'bidi' : 'client-stream';
  return m.responseStream === true ? 'server-stream' : 'unary';
}

/** Every method of every fuzzed service, in a stable order (the .proto's). */
export function fuzzMethods(): FuzzMethod[] {
  const r = fuzzRoot();
  const out: FuzzMethod[] = [];
  for (const [serviceName, server] of Object.entries(FUZZED_SERVICES)) {
    const service = r.lookupService(serviceName);
    for (const method of service.methodsArray) {
      method.resolve();
      out.push({
        service: serviceName,
        name: method.name,
        path: `/${serviceName}/${method.name}`,
        fullName: `${serviceName}.${method.name}`,
        requestType: method.resolvedRequestType!,
        responseType: method.resolvedResponseType!,
        shape: shapeOf(method),
        server,
      });
    }
  }
  return out;
}
