import type { AppliedEntry, StateMachine } from '../raft/index.js';
import { MasterStateMachine, type ApplyResult } from './state-machine.js';

/**
 * Puts the master's state machine behind its Raft log. A snapshot restore
 * builds a new state machine, so everyone reads the current one through
 * `current`.
 */
export class MasterStateHolder implements StateMachine<ApplyResult> {
  current = new MasterStateMachine();

  apply(entry: AppliedEntry): ApplyResult {
    return this.current.applyEncoded(entry.data);
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }

  restore(data: Uint8Array): void {
    this.current = MasterStateMachine.restore(data);
  }
}
