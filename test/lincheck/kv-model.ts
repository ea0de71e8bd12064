import type { Model, Operation } from './history.js';

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'append'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string };

/** A get returns the value (null when the key was never written); writes return nothing. */
export interface KvOutput {
  readonly value?: string | null;
}

export type KvOperation = Operation<KvInput, KvOutput>;

/** One key's value; keys are independent, so histories split per key. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.kind) {
      case 'put':
        return { ok: true, state: input.value };
      case 'append':
        return { ok: true, state: (state ?? '') + input.value };
      case 'get':
        return { ok: output === undefined || output.value === state, state };
    }
  },
  key: (state) => (state === null ? '\u0000' : `=${state}`),
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      const list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, [op]);
      else list.push(op);
    }
    return [...byKey.values()];
  },
  describe(op) {
    const i = op.input;
    const what = i.kind === 'get' ? `get(${i.key})` : `${i.kind}(${i.key}, ${JSON.stringify(i.value)})`;
    const got = op.output === undefined ? '?' : i.kind === 'get' ? JSON.stringify(op.output.value) : 'ok';
    return `[${op.call}, ${op.return}] ${op.client}: ${what} -> ${got}`;
  },
};
