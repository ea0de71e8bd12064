import type { LogStateMachine } from './replicated-log.js';
import { MasterStateMachine, type ApplyResult } from './state-machine.js';

/**
 * Puts the master's state machine behind its log. A snapshot restore builds a
 * new state machine, so everyone reads the current one through `current`.
 */
export class MasterStateHolder implements LogStateMachine<ApplyResult> {
  current = new MasterStateMachine();

  apply(data: Uint8Array): ApplyResult {
    return this.current.applyEncoded(data);
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }

  restore(data: Uint8Array): void {
    this.current = MasterStateMachine.restore(data);
  }
}
