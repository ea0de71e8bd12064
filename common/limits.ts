/**
 * Every limit on something that grows, in one place. The README's "Limits"
 * section documents each; change both together.
 */
export const LIMITS = {
  /** Chunk sizes a cluster may be created with (powers of two in between). */
  chunkSizeMinBytes: 64 * 1024,
  chunkSizeMaxBytes: 1024 * 1024 * 1024,
  /** Bytes in one path, as Linux's PATH_MAX. */
  pathMaxBytes: 4096,
  /** Bytes in one path component, as Linux's NAME_MAX. */
  nameMaxBytes: 255,
  /** Bytes in a symlink's target: Linux's PATH_MAX less its terminating NUL. */
  symlinkTargetMaxBytes: 4095,
  /** Hard links to one non-directory inode (link(2) fails with TOO_MANY_LINKS): ext4's EXT4_LINK_MAX. */
  linksMax: 65_000,
  /** Supplementary groups in one request's Caller (NFS AUTH_SYS carries 16): bounds what every namespace request adds to the log. */
  callerGroupsMax: 256,
  /** Largest metadata request or response message. */
  metadataMessageMaxBytes: 4 * 1024 * 1024,
  /** Largest data packet on the wire (write packets, read frames). */
  dataPacketMaxBytes: 1024 * 1024,
  /** Largest gRPC message on the data path: a packet plus its header. */
  dataMessageMaxBytes: 1024 * 1024 + 64 * 1024,
  /** Largest append record: GFS's bound, a quarter of a chunk, capped by the packet size. */
  appendRecordMaxFraction: 4,
  /** Checksum block: one CRC32C per this many bytes of a chunk. */
  checksumBlockBytes: 64 * 1024,
  /** Bytes in a client id (UUIDs are 36): bounds what a client can make the dedup tables hold. */
  clientIdMaxBytes: 64,
  /** Entries returned by one List call. */
  listPageMax: 10_000,
  /** Chunk slots in one file (holes included): 64 TiB at 64 MiB chunks. */
  chunksPerFileMax: 1 << 20,
  /** Chunk locations returned by one GetChunks call. */
  chunksPageMax: 1_000,
  /**
   * Unacknowledged bytes a client keeps in flight on one chunk's write stream.
   * 8 MiB wrote faster than 16 with less CPU and a smaller mount (dd of 2 GiB
   * through the mount, 3 runs of each, alternated: README, What changed).
   */
  writeWindowBytes: 8 * 1024 * 1024,
  /** Bytes a chunk's pipeline holds unacknowledged before its writers must wait. */
  pipelineQueuedBytesMax: 32 * 1024 * 1024,
  /** Appends the primary holds for one chunk before refusing with OVERLOADED. */
  pendingAppendsPerChunkMax: 4096,
  /** Recent (client, seq) append results each replica remembers per chunk and client. */
  appendDedupWindow: 1024,
  /** Recent request results the master remembers per client. */
  sessionResultsPerClient: 256,
  /**
   * Ops in one Batch or ReadBatch call (and sub-entries in one Batch log
   * entry); above it the call fails whole with TOO_LARGE. Half the session
   * window: a client sends one batch at a time and retries a failed batch
   * before any newer op, so every op of a retried batch is still remembered
   * by its session, with room for the client's other calls in flight.
   * apply() refuses a bigger Batch entry too, so it may be raised but never
   * lowered: a log written under a higher bound would replay differently.
   */
  batchOpsMax: 128,
  /**
   * Bytes of one Batch log entry as encoded; above it the call fails whole
   * with TOO_LARGE. A quarter of metadataMessageMaxBytes, the size of a Raft
   * message, so a batch entry always travels in one.
   */
  batchEntryMaxBytes: 1024 * 1024,
  /**
   * Requests a master serves at once on one metadata session; it reads no
   * more of the stream until one is answered. A client sends one Batch and
   * one ReadBatch at a time, so only a misbehaving one meets this.
   */
  metadataSessionInFlightMax: 16,
  /**
   * Bytes of one read on a read session; longer reads are Read calls, whose
   * frames stream under flow control instead of holding up the session's
   * other answers. The kernel's largest FUSE read.
   */
  sessionReadMaxBytes: 128 * 1024,
  /** Reads a chunkserver serves at once on one read session (a mount reads for many processes). */
  readSessionInFlightMax: 64,
  /** Appends a primary serves at once on one append session; beyond it the stream is paused until one is answered. */
  appendSessionInFlightMax: 64,
  /** Metadata proposals waiting for the log before the master refuses with OVERLOADED. */
  queuedProposalsMax: 10_000,
  /** Inodes one Fsck page examines at most. */
  fsckItemsPerPageMax: 10_000,
  /** Unhealthy chunks one Fsck page lists (its summary counts every one). */
  fsckChunksListedMax: 10_000,
  /** Moves a Rebalance reply lists (its counts cover the whole plan). */
  rebalanceMovesListedMax: 10_000,
  /** Concurrent re-replication copies per chunkserver (as source or target). */
  copiesPerServerMax: 2,
  /** Largest replication goal that is a count (above: use `all`). */
  replicationMax: 32,
  /** Distribution tasks a heartbeat may report in flight or failed; more are ignored. */
  distributionProgressPerHeartbeatMax: 2_048,
  /** Distribute calls the leader has in flight at once (one per node). */
  distributeCallsInFlightMax: 64,
  /** Tasks (members x chunks) the leader plans in one round; more chunks wait for the next round, so no round blocks for long. */
  distributionTasksPlannedPerRoundMax: 50_000,
  /** Tasks in one Distribute call; the rest follow in the next. */
  distributionTasksPerCallMax: 1024,
  /** Longest idle time a primary may be asked to wait before giving its lease up. */
  idleReleaseMsMax: 60_000,
  /** Chunk heat entries a heartbeat may carry; more are ignored. */
  heatReportsPerHeartbeatMax: 64,
  /** Per-node rows in one DistributionStatus answer. */
  distributionStatusRowsMax: 10_000,
  /** HTTP/2 flow-control window on data connections, both sides. */
  dataWindowBytes: 16 * 1024 * 1024,
  /**
   * Versions of its history each replica keeps (lineage: for each version,
   * how long a prefix it shares with the one before), so that a peer holding
   * an older version fetches only what changed. A base older than this many
   * versions is copied whole.
   */
  lineageEntriesMax: 16,
  /** Distribution tasks one chunkserver holds (queued, running and failed); a Distribute call that would exceed it is refused with OVERLOADED. */
  distributionTasksMax: 65_536,
  /** Largest distributionDownloads setting: more at once only splits the same downlink finer. */
  distributionDownloadsMax: 64,
  /** Sources named by one distribution task. */
  distributionSourcesMax: 16,
  /** Failed distribution tasks listed in one heartbeat (running ones are at most the download slots). */
  distributionFailuresReportedMax: 1_024,
  /** Chunks whose client reads a chunkserver counts between two heartbeats (reads of others go uncounted until the next interval). */
  heatTrackedChunksMax: 100_000,
  /** Hottest chunks one heartbeat reports. */
  heatReportedChunksMax: 32,
} as const;
