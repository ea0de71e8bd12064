import type { NodeId } from './types.js';

/**
 * Expected refusals of the core, one closed list. The driver maps each to a
 * DfsError code (it knows addresses, the core only ids).
 */
export const RAFT_ERROR_CODES = [
  // This node is not the leader; `leader` is who it believes leads, if anyone.
  'NOT_LEADER',
  // A leadership transfer is under way; proposals resume when it ends.
  'TRANSFERRING',
  // A membership change is still uncommitted or unapplied: one at a time.
  'CONF_CHANGE_PENDING',
  // The change does not fit the current membership (e.g. removing a non-member).
  'INVALID_CONF_CHANGE',
  // The transfer target is not a voter.
  'INVALID_TRANSFER',
  // The leader's uncommitted log is at its byte limit.
  'OVERLOADED',
] as const;

export type RaftErrorCode = (typeof RAFT_ERROR_CODES)[number];

export class RaftError extends Error {
  override name = 'RaftError';
  readonly code: RaftErrorCode;
  readonly leader: NodeId | null;

  constructor(code: RaftErrorCode, message: string, leader: NodeId | null = null) {
    super(message);
    this.code = code;
    this.leader = leader;
  }
}

export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}
