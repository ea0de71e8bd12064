import { DfsError } from '../common/errors.js';
import { type InodeId, inodeId } from '../common/ids.js';
import type { OpResult } from '../proto/generated/dfs/master/OpResult.js';
import type { ReadOp__Output } from '../proto/generated/dfs/master/ReadOp.js';
import type { AttrView } from './attr.js';
import { opAttr } from './batch-ops.js';
import type { Caller } from './permissions.js';
import { requireCaller, requireEntryName, requireInode, requirePath } from './request-validation.js';
import type { MasterStateMachine } from './state-machine.js';

/**
 * The reads of Metadata.ReadBatch, and of their lone RPCs (Stat, Lookup,
 * StatInode, Readlink): each checked before the read barrier, then answered
 * from the state machine after it, with the same checks and codes either way.
 */
export type ReadQuery =
  | { readonly kind: 'stat'; readonly path: string; readonly caller: Caller | undefined }
  | { readonly kind: 'lookup'; readonly parent: InodeId; readonly name: string; readonly caller: Caller | undefined }
  | { readonly kind: 'statInode'; readonly inode: InodeId }
  | { readonly kind: 'readlink'; readonly inode: InodeId };

/** A ReadOp, checked. Throws DfsError. */
export function readQuery(op: ReadOp__Output): ReadQuery {
  switch (op.op) {
    case 'stat': {
      const req = present(op.stat, op.op);
      return { kind: 'stat', path: requirePath(req.path), caller: requireCaller(req.caller) };
    }
    case 'lookup': {
      const req = present(op.lookup, op.op);
      const parent = inodeId(requireInode(req.parent, 'parent'));
      return { kind: 'lookup', parent, name: requireEntryName(req.name, 'name'), caller: requireCaller(req.caller) };
    }
    case 'statInode':
      return { kind: 'statInode', inode: inodeId(requireInode(present(op.statInode, op.op).inode, 'inode')) };
    case 'readlink':
      return { kind: 'readlink', inode: inodeId(requireInode(present(op.readlink, op.op).inode, 'inode')) };
    case undefined:
      throw new DfsError('INVALID_ARGUMENT', 'a read batch op carries no operation');
    default: {
      const unknown: never = op.op;
      throw new DfsError('INVALID_ARGUMENT', `unknown read op ${String(unknown)}`);
    }
  }
}

export type ReadAnswer = { readonly kind: 'attr'; readonly attr: AttrView } | { readonly kind: 'target'; readonly target: string };

/** The answer to a checked read, from the state as it is now. Throws DfsError. */
export function runRead(state: MasterStateMachine, query: ReadQuery): ReadAnswer {
  switch (query.kind) {
    case 'stat':
      return { kind: 'attr', attr: state.stat(query.path, query.caller) };
    case 'lookup':
      return { kind: 'attr', attr: state.lookup(query.parent, query.name, query.caller) };
    case 'statInode':
      return { kind: 'attr', attr: state.statInode(query.inode) };
    case 'readlink':
      return { kind: 'target', target: state.readlink(query.inode) };
  }
}

/** A read's answer as a ReadBatch result. */
export function readResultOf(answer: ReadAnswer): OpResult {
  return answer.kind === 'attr' ? opAttr(answer.attr) : { target: answer.target };
}

function present<T>(value: T | null | undefined, op: string): T {
  if (value === undefined || value === null) throw new DfsError('INVALID_ARGUMENT', `a read op names ${op} but does not carry it`);
  return value;
}
