import { errors } from '../common/errors.js';
import type { NodeAdminState as WireNodeAdminState } from '../proto/generated/dfs/NodeAdminState.js';

/** What an operator made of a chunkserver (proto NodeAdminState). */
export const NODE_ADMIN_STATES = ['active', 'decommissioning', 'decommissioned', 'maintenance'] as const;
export type NodeAdminState = (typeof NODE_ADMIN_STATES)[number];

const WIRE: Record<NodeAdminState, { name: WireNodeAdminState & string; number: number }> = {
  active: { name: 'NODE_ADMIN_STATE_ACTIVE', number: 1 },
  decommissioning: { name: 'NODE_ADMIN_STATE_DECOMMISSIONING', number: 2 },
  decommissioned: { name: 'NODE_ADMIN_STATE_DECOMMISSIONED', number: 3 },
  maintenance: { name: 'NODE_ADMIN_STATE_MAINTENANCE', number: 4 },
};

/** A wire value (enum name or number) as a state, or undefined for anything else (UNSPECIFIED included). */
export function nodeStateFromWire(value: unknown): NodeAdminState | undefined {
  return NODE_ADMIN_STATES.find((s) => value === WIRE[s].name || value === WIRE[s].number);
}

export function nodeStateToWire(state: NodeAdminState): WireNodeAdminState & string {
  return WIRE[state].name;
}

export function nodeStateNumber(state: NodeAdminState): number {
  return WIRE[state].number;
}

/** Server ids are chunkserver UUIDs or operator-chosen names: bounded, printable. */
const SERVER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isValidServerId(id: string): boolean {
  return SERVER_ID.test(id);
}

/**
 * The admin state of every chunkserver that is not simply active: part of
 * the replicated state (it must outlive a change of leader), changed only by
 * SetNodeState entries. A server absent from the table is active.
 */
export class NodeStateTable {
  private readonly states = new Map<string, Exclude<NodeAdminState, 'active'>>();

  get(serverId: string): NodeAdminState {
    return this.states.get(serverId) ?? 'active';
  }

  /** Throws INVALID_ARGUMENT for a malformed id. */
  set(serverId: string, state: NodeAdminState): void {
    if (!isValidServerId(serverId)) throw errors.invalid(`server id ${JSON.stringify(serverId)} is not 1 to 128 letters, digits or . _ : -`);
    if (state === 'active') this.states.delete(serverId);
    else this.states.set(serverId, state);
  }

  /** Every server not active, ascending by id (the snapshot's order). */
  entries(): [string, Exclude<NodeAdminState, 'active'>][] {
    return [...this.states].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  get size(): number {
    return this.states.size;
  }
}
