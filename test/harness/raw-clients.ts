import * as grpc from '@grpc/grpc-js';
import { TestCluster, type TestIdentity } from './test-cluster.js';
import { masterServices, chunkserverServices } from '../../proto/load.js';
import type { MetadataClient } from '../../proto/generated/dfs/master/Metadata.js';
import type { AdminClient } from '../../proto/generated/dfs/master/Admin.js';
import type { RegistryClient } from '../../proto/generated/dfs/master/Registry.js';
import type { ChunkDataClient } from '../../proto/generated/dfs/chunk/ChunkData.js';
import type { ChunkReplicationClient } from '../../proto/generated/dfs/chunk/ChunkReplication.js';
import type { ChunkControlClient } from '../../proto/generated/dfs/chunk/ChunkControl.js';

/**
 * Plain generated gRPC clients, for tests that speak the wire protocol
 * directly: with one set of credentials for every service, or with a
 * cluster's, each service as the role that calls it: a mount for Metadata
 * (the requests' callers are then the ones checked, as a test sets them),
 * admin for Admin, chunkserver for Registry, ChunkData and ChunkReplication
 * (a chunkserver needs no chunk access token), master for ChunkControl.
 */
export function rawClients(address: string, credentials: grpc.ChannelCredentials | TestCluster = grpc.credentials.createInsecure()) {
  const as = (who: TestIdentity): grpc.ChannelCredentials => (credentials instanceof TestCluster ? credentials.channelCredentials(who) : credentials);
  const master = masterServices().dfs.master;
  const chunk = chunkserverServices().dfs.chunk;
  const made: grpc.Client[] = [];
  const keep = <C extends grpc.Client>(c: C): C => {
    made.push(c);
    return c;
  };
  return {
    metadata: () => keep<MetadataClient>(new master.Metadata(address, as('mount'))),
    admin: () => keep<AdminClient>(new master.Admin(address, as('admin'))),
    registry: () => keep<RegistryClient>(new master.Registry(address, as('chunkserver'))),
    data: () => keep<ChunkDataClient>(new chunk.ChunkData(address, as('chunkserver'))),
    replication: () => keep<ChunkReplicationClient>(new chunk.ChunkReplication(address, as('chunkserver'))),
    control: () => keep<ChunkControlClient>(new chunk.ChunkControl(address, as('master'))),
    close: () => made.forEach((c) => c.close()),
  };
}
