import { assertNever } from '../../common/assert.js';
import { DfsError } from '../../common/errors.js';
import { parseWireInteger } from '../../common/ids.js';
import type { ConfState as WireConfState, ConfState__Output as WireConfStateOut } from '../../proto/generated/dfs/raft/ConfState.js';
import type { Entry as WireEntry, Entry__Output as WireEntryOut } from '../../proto/generated/dfs/raft/Entry.js';
import type { HardState as WireHardState, HardState__Output as WireHardStateOut } from '../../proto/generated/dfs/raft/HardState.js';
import type { Message as WireMessage, Message__Output as WireMessageOut } from '../../proto/generated/dfs/raft/Message.js';
import type { Snapshot as WireSnapshot, Snapshot__Output as WireSnapshotOut } from '../../proto/generated/dfs/raft/Snapshot.js';
import type { Message } from '../core/messages.js';
import type { ConfState, Entry, HardState, NodeId, Snapshot } from '../core/types.js';

/**
 * Core types to and from their protobuf form. Decoding checks everything a
 * peer (or a disk) could get wrong and throws INVALID_ARGUMENT; the core then
 * only ever sees well-formed values.
 */
function bad(message: string): DfsError {
  return new DfsError('INVALID_ARGUMENT', `raft: ${message}`);
}

function int(value: string | number | undefined | null, what: string): number {
  const n = parseWireInteger(value);
  if (n === undefined) throw bad(`${what} is not a safe non-negative integer: ${String(value)}`);
  return n;
}

function id(value: string | undefined, what: string): NodeId {
  if (typeof value !== 'string' || value.length === 0) throw bad(`${what} is empty`);
  return value as NodeId;
}

function optionalId(value: string | undefined): NodeId | null {
  return value === undefined || value === '' ? null : (value as NodeId);
}

const bytesOf = (b: Buffer | undefined): Uint8Array => (b === undefined ? new Uint8Array(0) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

export function entryToWire(e: Entry): WireEntry {
  return { term: e.term, index: e.index, type: e.type === 'normal' ? 'ENTRY_TYPE_NORMAL' : 'ENTRY_TYPE_CONF_CHANGE', data: e.data };
}

export function entryFromWire(w: WireEntryOut): Entry {
  let type: Entry['type'];
  if (w.type === 'ENTRY_TYPE_NORMAL') type = 'normal';
  else if (w.type === 'ENTRY_TYPE_CONF_CHANGE') type = 'confChange';
  else throw bad(`unknown entry type ${String(w.type)}`);
  return { term: int(w.term, 'entry term'), index: int(w.index, 'entry index'), type, data: bytesOf(w.data) };
}

function entriesFromWire(ws: readonly WireEntryOut[], after: number): Entry[] {
  const entries = ws.map(entryFromWire);
  entries.forEach((e, i) => {
    if (e.index !== after + 1 + i) throw bad(`entries are not contiguous after index ${after}`);
  });
  return entries;
}

export function hardStateToWire(h: HardState): WireHardState {
  return { term: h.term, vote: h.vote ?? '', commit: h.commit };
}

export function hardStateFromWire(w: WireHardStateOut): HardState {
  return { term: int(w.term, 'hard state term'), vote: optionalId(w.vote), commit: int(w.commit, 'commit') };
}

export function confStateToWire(c: ConfState): WireConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

export function confStateFromWire(w: WireConfStateOut | null | undefined): ConfState {
  return {
    voters: (w?.voters ?? []).map((v) => id(v, 'voter id')),
    learners: (w?.learners ?? []).map((v) => id(v, 'learner id')),
  };
}

export function snapshotToWire(s: Snapshot): WireSnapshot {
  return {
    metadata: { index: s.metadata.index, term: s.metadata.term, confState: confStateToWire(s.metadata.confState) },
    data: s.data,
  };
}

export function snapshotFromWire(w: WireSnapshotOut | null | undefined): Snapshot {
  const md = w?.metadata;
  if (md === null || md === undefined) throw bad('snapshot without metadata');
  return {
    metadata: { index: int(md.index, 'snapshot index'), term: int(md.term, 'snapshot term'), confState: confStateFromWire(md.confState) },
    data: bytesOf(w?.data),
  };
}

export function messageToWire(m: Message): WireMessage {
  const head = { from: m.from, to: m.to, term: m.term };
  switch (m.type) {
    case 'append':
      return { ...head, append: { prevIndex: m.prevIndex, prevTerm: m.prevTerm, entries: m.entries.map(entryToWire), commit: m.commit } };
    case 'appendResponse':
      return { ...head, appendResponse: { index: m.index, reject: m.reject, hintIndex: m.hintIndex, hintTerm: m.hintTerm } };
    case 'vote':
    case 'preVote':
      return { ...head, vote: { preVote: m.type === 'preVote', lastIndex: m.lastIndex, lastTerm: m.lastTerm, transfer: m.transfer } };
    case 'voteResponse':
    case 'preVoteResponse':
      return { ...head, voteResponse: { preVote: m.type === 'preVoteResponse', reject: m.reject } };
    case 'snapshot':
      return { ...head, snapshot: snapshotToWire(m.snapshot) };
    case 'heartbeat':
      return { ...head, heartbeat: { commit: m.commit, context: m.context } };
    case 'heartbeatResponse':
      return { ...head, heartbeatResponse: { context: m.context } };
    case 'timeoutNow':
      return { ...head, timeoutNow: {} };
    case 'readIndex':
      return { ...head, readIndex: { context: m.context } };
    case 'readIndexResponse':
      return { ...head, readIndexResponse: { index: m.index, context: m.context } };
    default:
      return assertNever(m, 'message');
  }
}

export function messageFromWire(w: WireMessageOut): Message {
  const head = { from: id(w.from, 'message sender'), to: id(w.to, 'message recipient'), term: int(w.term, 'message term') };
  switch (w.body) {
    case 'append': {
      const b = w.append!;
      const prevIndex = int(b.prevIndex, 'prevIndex');
      return { ...head, type: 'append', prevIndex, prevTerm: int(b.prevTerm, 'prevTerm'), entries: entriesFromWire(b.entries, prevIndex), commit: int(b.commit, 'commit') };
    }
    case 'appendResponse': {
      const b = w.appendResponse!;
      return { ...head, type: 'appendResponse', index: int(b.index, 'index'), reject: b.reject, hintIndex: int(b.hintIndex, 'hintIndex'), hintTerm: int(b.hintTerm, 'hintTerm') };
    }
    case 'vote': {
      const b = w.vote!;
      return { ...head, type: b.preVote ? 'preVote' : 'vote', lastIndex: int(b.lastIndex, 'lastIndex'), lastTerm: int(b.lastTerm, 'lastTerm'), transfer: b.transfer };
    }
    case 'voteResponse': {
      const b = w.voteResponse!;
      return { ...head, type: b.preVote ? 'preVoteResponse' : 'voteResponse', reject: b.reject };
    }
    case 'snapshot':
      return { ...head, type: 'snapshot', snapshot: snapshotFromWire(w.snapshot) };
    case 'heartbeat': {
      const b = w.heartbeat!;
      return { ...head, type: 'heartbeat', commit: int(b.commit, 'commit'), context: b.context };
    }
    case 'heartbeatResponse':
      return { ...head, type: 'heartbeatResponse', context: w.heartbeatResponse!.context };
    case 'timeoutNow':
      return { ...head, type: 'timeoutNow' };
    case 'readIndex':
      return { ...head, type: 'readIndex', context: w.readIndex!.context };
    case 'readIndexResponse': {
      const b = w.readIndexResponse!;
      return { ...head, type: 'readIndexResponse', index: int(b.index, 'index'), context: b.context };
    }
    case undefined:
      throw bad('message without a body');
    default:
      return assertNever(w.body, 'message body');
  }
}
