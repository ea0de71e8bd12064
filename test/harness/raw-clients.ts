import * as grpc from '@grpc/grpc-js';
import { masterServices, chunkserverServices } from '../../proto/load.js';
import type { MetadataClient } from '../../proto/generated/dfs/master/Metadata.js';
import type { AdminClient } from '../../proto/generated/dfs/master/Admin.js';
import type { RegistryClient } from '../../proto/generated/dfs/master/Registry.js';
import type { ChunkDataClient } from '../../proto/generated/dfs/chunk/ChunkData.js';
import type { ChunkReplicationClient } from '../../proto/generated/dfs/chunk/ChunkReplication.js';
import type { ChunkControlClient } from '../../proto/generated/dfs/chunk/ChunkControl.js';

/** Plain generated gRPC clients, for tests that speak the wire protocol directly. */
export function rawClients(address: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
  const master = masterServices().dfs.master;
  const chunk = chunkserverServices().dfs.chunk;
  const made: grpc.Client[] = [];
  const keep = <C extends grpc.Client>(c: C): C => {
    made.push(c);
    return c;
  };
  return {
    metadata: () => keep<MetadataClient>(new master.Metadata(address, creds)),
    admin: () => keep<AdminClient>(new master.Admin(address, creds)),
    registry: () => keep<RegistryClient>(new master.Registry(address, creds)),
    data: () => keep<ChunkDataClient>(new chunk.ChunkData(address, creds)),
    replication: () => keep<ChunkReplicationClient>(new chunk.ChunkReplication(address, creds)),
    control: () => keep<ChunkControlClient>(new chunk.ChunkControl(address, creds)),
    close: () => made.forEach((c) => c.close()),
  };
}
