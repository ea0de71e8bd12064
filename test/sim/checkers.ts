import type { Entry, Index, NodeId, Term } from '../../raft/core/types.js';

export class SimFailure extends Error {
  override name = 'SimFailure';
}

/** A comparable identity for an entry's payload. */
export function payloadKey(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1')}`;
}

/**
 * The Raft safety properties (§5.2-§5.4, Figure 3), checked incrementally
 * as the simulation runs, so that each check costs little per step.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  /** (index, term) -> payload and the term of the entry before it: log matching by induction. */
  private readonly logEntries = new Map<string, { payload: string; prevTerm: Term }>();
  /** index -> term of the committed entry there. */
  private readonly committed: Term[] = [];
  private committedMax: Index = 0;
  /** index -> payload applied there by anyone. */
  private readonly applied: string[] = [];
  leadersSeen = 0;

  fail(message: string): never {
    throw new SimFailure(message);
  }

  /** Election safety: at most one leader per term. True if this leader is new for its term. */
  observeLeader(id: NodeId, term: Term): boolean {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      this.leadersSeen++;
      return true;
    }
    if (known !== id) this.fail(`election safety: ${known} and ${id} are both leaders of term ${term}`);
    return false;
  }

  /** Log matching: an (index, term) pair determines the entry and, inductively, the whole prefix. */
  observeAppended(node: NodeId, e: Entry, prevTerm: Term): void {
    const key = `${e.index}:${e.term}`;
    const payload = payloadKey(e);
    const known = this.logEntries.get(key);
    if (known === undefined) {
      this.logEntries.set(key, { payload, prevTerm });
      return;
    }
    if (known.payload !== payload) this.fail(`log matching: ${node} holds a different entry at index ${e.index} term ${e.term}`);
    if (known.prevTerm !== prevTerm) {
      this.fail(`log matching: ${node} has term ${prevTerm} before (${e.index}, ${e.term}), another log has ${known.prevTerm}`);
    }
  }

  /** A committed index never changes its entry. */
  observeCommitted(node: NodeId, index: Index, term: Term): void {
    const known = this.committed[index];
    if (known === undefined) {
      this.committed[index] = term;
      if (index > this.committedMax) this.committedMax = index;
    } else if (known !== term) {
      this.fail(`committed entry changed: ${node} commits term ${term} at index ${index}, committed earlier with term ${known}`);
    }
  }

  /** Leader completeness: a new leader's log holds every entry committed so far. */
  checkLeaderCompleteness(node: NodeId, term: Term, firstIndex: Index, lastIndex: Index, termAt: (i: Index) => Term): void {
    if (lastIndex < this.committedMax) {
      this.fail(`leader completeness: ${node} leads term ${term} with last index ${lastIndex}, below committed ${this.committedMax}`);
    }
    for (let i = Math.max(1, firstIndex); i <= this.committedMax; i++) {
      const want = this.committed[i];
      if (want !== undefined && termAt(i) !== want) {
        this.fail(`leader completeness: ${node} leads term ${term} with term ${termAt(i)} at committed index ${i} (committed term ${want})`);
      }
    }
  }

  /** State machine safety: every node applies the same entry at each index. */
  observeApplied(node: NodeId, e: Entry): void {
    const payload = `${e.term}|${payloadKey(e)}`;
    const known = this.applied[e.index];
    if (known === undefined) this.applied[e.index] = payload;
    else if (known !== payload) this.fail(`state machine safety: ${node} applies a different entry at index ${e.index}`);
    const committedTerm = this.committed[e.index];
    if (committedTerm !== undefined && committedTerm !== e.term) {
      this.fail(`state machine safety: ${node} applies term ${e.term} at ${e.index}, committed term is ${committedTerm}`);
    }
  }

  get highestCommitted(): Index {
    return this.committedMax;
  }
}
