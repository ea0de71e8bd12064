import { assert, assertNever } from '../../common/assert.js';
import { assertIndex, assertTerm, type Entry, type Index, type NodeId, type Snapshot, type Term } from './types.js';

/**
 * The messages Raft nodes exchange. Every message carries the sender's term;
 * `readIndex` is the one exception (term 0): a follower forwards it to the
 * leader as it would a local request, so term rules do not apply to it.
 */
interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** AppendEntries; with no entries it still probes the follower's log and carries the commit index. */
export interface AppendMessage extends Header {
  readonly type: 'append';
  readonly prevIndex: Index;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/**
 * Success: the follower's log matches the leader's through `index`.
 * Rejection: the entry at `index` (the probe's prevIndex) did not match; the
 * follower's log is known to match nowhere past `hintIndex`, whose term is
 * `hintTerm`, which lets the leader skip a whole term of entries per round trip.
 */
export interface AppendResponseMessage extends Header {
  readonly type: 'appendResponse';
  readonly index: Index;
  readonly reject: boolean;
  readonly hintIndex: Index;
  readonly hintTerm: Term;
}

/**
 * RequestVote, or its PreVote rehearsal. `transfer` marks a campaign that the
 * old leader asked for (TimeoutNow): voters then set aside their leader lease.
 */
export interface VoteMessage extends Header {
  readonly type: 'vote' | 'preVote';
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends Header {
  readonly type: 'voteResponse' | 'preVoteResponse';
  readonly reject: boolean;
}

/** InstallSnapshot. The follower answers with an appendResponse. */
export interface SnapshotMessage extends Header {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** `context` is the newest pending ReadIndex request, or '' when none. */
export interface HeartbeatMessage extends Header {
  readonly type: 'heartbeat';
  readonly commit: Index;
  readonly context: string;
}

export interface HeartbeatResponseMessage extends Header {
  readonly type: 'heartbeatResponse';
  readonly context: string;
}

/** Leadership transfer: the target campaigns at once, skipping PreVote. */
export interface TimeoutNowMessage extends Header {
  readonly type: 'timeoutNow';
}

/** A follower asks the leader for a read index on behalf of its caller. */
export interface ReadIndexMessage extends Header {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponseMessage extends Header {
  readonly type: 'readIndexResponse';
  readonly index: Index;
  readonly context: string;
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | SnapshotMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type MessageType = Message['type'];


/**
 * Responses that promise something durable (a vote, or entries held) may
 * leave only after the Ready that produced them has been persisted.
 */
export function mustFollowPersistence(type: MessageType): boolean {
  return type === 'appendResponse' || type === 'voteResponse' || type === 'preVoteResponse';
}

/** Every number in a message is a safe non-negative integer; decoders ensure it for peers' messages. */
export function assertWellFormed(m: Message): void {
  assertTerm(m.term, `${m.type}.term`);
  switch (m.type) {
    case 'append':
      assertIndex(m.prevIndex, 'append.prevIndex');
      assertTerm(m.prevTerm, 'append.prevTerm');
      assertIndex(m.commit, 'append.commit');
      m.entries.forEach((e, i) => {
        assertTerm(e.term, 'entry.term');
        assertIndex(e.index, 'entry.index');
        assert(e.index === m.prevIndex + 1 + i, `append entries out of sequence at ${e.index}`);
      });
      return;
    case 'appendResponse':
      assertIndex(m.index, 'appendResponse.index');
      assertIndex(m.hintIndex, 'appendResponse.hintIndex');
      assertTerm(m.hintTerm, 'appendResponse.hintTerm');
      return;
    case 'vote':
    case 'preVote':
      assertIndex(m.lastIndex, `${m.type}.lastIndex`);
      assertTerm(m.lastTerm, `${m.type}.lastTerm`);
      return;
    case 'snapshot':
      assertIndex(m.snapshot.metadata.index, 'snapshot.index');
      assertTerm(m.snapshot.metadata.term, 'snapshot.term');
      return;
    case 'heartbeat':
      assertIndex(m.commit, 'heartbeat.commit');
      return;
    case 'readIndexResponse':
      assertIndex(m.index, 'readIndexResponse.index');
      return;
    case 'voteResponse':
    case 'preVoteResponse':
    case 'heartbeatResponse':
    case 'timeoutNow':
    case 'readIndex':
      return;
    default:
      assertNever(m, 'message');
  }
}
