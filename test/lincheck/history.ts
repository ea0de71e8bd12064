/**
 * One client operation as observed from outside: when it was called, when it
 * returned (Infinity if it never did), what it asked and what it got
 * (undefined if it never returned: the outcome is unknown, it may or may not
 * have taken effect).
 */
export interface Operation<Input, Output> {
  readonly client: string;
  readonly input: Input;
  readonly output: Output | undefined;
  readonly call: number;
  readonly return: number;
}

/**
 * A sequential specification. `step` says whether `input` may produce
 * `output` in `state` (any output is fine when it is undefined) and what
 * state follows. States must be immutable values; `key` identifies equal ones.
 */
export interface Model<State, Input, Output> {
  init(): State;
  step(state: State, input: Input, output: Output | undefined): { ok: boolean; state: State };
  key(state: State): string;
  /** P-compositionality: independent sub-histories (e.g. one per key) checked separately. */
  partition?(history: ReadonlyArray<Operation<Input, Output>>): Array<Array<Operation<Input, Output>>>;
  describe?(op: Operation<Input, Output>): string;
}
