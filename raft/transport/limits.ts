/** Every bound of the gRPC transport, in one place. */
export const TRANSPORT_LIMITS = {
  /** Messages queued for one peer while its stream is full; the oldest are dropped beyond it. */
  queuedMessagesPerPeer: 4096,
  /** Bytes of messages in one batch on the stream (a single larger message still goes alone). */
  batchBytes: 4 * 1024 * 1024,
  /** Largest gRPC message either side accepts: one batch, or one large entry. */
  grpcMessageBytes: 64 * 1024 * 1024,
  /** Snapshot data per InstallSnapshot chunk. */
  snapshotChunkBytes: 1024 * 1024,
  /** Largest snapshot a receiver assembles. */
  snapshotMaxBytes: 1024 * 1024 * 1024,
  /** A peer whose stream takes nothing for this long counts as unreachable (its stream is dropped). */
  sendTimeoutMs: 5_000,
  /** Deadline of one whole snapshot transfer. */
  snapshotTimeoutMs: 120_000,
} as const;

export type TransportLimits = { -readonly [K in keyof typeof TRANSPORT_LIMITS]: number };
