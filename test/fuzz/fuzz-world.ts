/**
 * What the fuzz knows about the live cluster: real names to make plausible
 * requests from (a sandbox the storm may change), and the names of what it
 * must not change (the reference files, the servers, the Raft members).
 */

export interface SandboxChunk {
  handle: string;
  version: string;
}

export interface FuzzServer {
  id: string;
  address: string;
}

export interface FuzzWorld {
  /** Sandbox paths (a directory and files under it) that requests may name and change. */
  sandboxPaths: string[];
  /** Their inodes (64-bit decimal strings). */
  sandboxInodes: string[];
  /** Chunks of the sandbox files, at the version they had when the storm began. */
  sandboxChunks: SandboxChunk[];
  chunkservers: FuzzServer[];
  /** Raft members: id and the master's address. */
  masters: FuzzServer[];
  /** The Raft term when the storm began: a message of a higher term is a legitimate election. */
  raftTerm: number;
  /** The reference data, which nothing sent may name in a well-formed request. */
  protectedPathPrefix: string;
  protectedName: string;
  protectedInodes: string[];
  protectedHandles: string[];
}
