import { assert } from '../../common/assert.js';
import { nodeId, type ConfState, type Entry, type NodeId } from './types.js';

/**
 * Single-server membership changes (thesis §4.1): one at a time, each taking
 * effect when it is applied. New members join as learners and are promoted
 * to voters once they have caught up (the driver's policy), so that adding a
 * server never stalls commitment (thesis §4.2.1).
 */
export const CONF_CHANGE_TYPES = ['addVoter', 'addLearner', 'removeNode'] as const;
export type ConfChangeType = (typeof CONF_CHANGE_TYPES)[number];

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to the core; the driver stores the member's address here. */
  readonly context: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A conf change as entry data: JSON, so that the log stays readable by any tool. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, nodeId: change.nodeId, context: change.context }));
}

/** Decodes committed entry data. Bad bytes here mean a corrupt log: a programmer error. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  assert(typeof parsed === 'object' && parsed !== null, 'conf change entry is not an object');
  const { type, nodeId: id, context } = parsed as Record<string, unknown>;
  assert(typeof type === 'string' && (CONF_CHANGE_TYPES as readonly string[]).includes(type), `bad conf change type ${String(type)}`);
  assert(typeof id === 'string' && id.length > 0, 'conf change without a node id');
  assert(typeof context === 'string', 'conf change context is not a string');
  return { type: type as ConfChangeType, nodeId: nodeId(id), context };
}

/** Why `change` cannot be proposed against `conf`, or null if it can. */
export function confChangeProblem(change: ConfChange, conf: ConfState): string | null {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  switch (change.type) {
    case 'addVoter':
      return isVoter ? `${change.nodeId} is already a voter` : null;
    case 'addLearner':
      if (isVoter) return `${change.nodeId} is a voter; demotion is not supported`;
      return isLearner ? `${change.nodeId} is already a learner` : null;
    case 'removeNode':
      if (!isVoter && !isLearner) return `${change.nodeId} is not a member`;
      return isVoter && conf.voters.length === 1 ? 'cannot remove the last voter' : null;
  }
}

/**
 * The log every member of a new cluster starts with: one committed addVoter
 * entry per initial member, at term 1. Every member must be given the same
 * list in the same order, so that their logs are identical.
 */
export function bootstrapEntries(members: ReadonlyArray<{ id: NodeId; context: string }>): Entry[] {
  assert(members.length > 0, 'bootstrap needs at least one member');
  assert(new Set(members.map((m) => m.id)).size === members.length, 'bootstrap members must be distinct');
  return members.map((m, i) => ({
    term: 1,
    index: i + 1,
    type: 'confChange' as const,
    data: encodeConfChange({ type: 'addVoter', nodeId: m.id, context: m.context }),
  }));
}
