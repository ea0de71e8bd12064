import type { Model, Operation } from '../../lincheck/history.js';

/** The names of one directory the metadata clients work on; each holds a file (its token) or nothing. */
export const NAMES = ['a', 'b', 'c'] as const;
export type Name = (typeof NAMES)[number];

export type NamespaceInput =
  | { readonly kind: 'create'; readonly dir: number; readonly name: Name; readonly token: number }
  | { readonly kind: 'rename'; readonly dir: number; readonly from: Name; readonly to: Name }
  | { readonly kind: 'delete'; readonly dir: number; readonly name: Name }
  | { readonly kind: 'stat'; readonly dir: number; readonly name: Name };

/** What a client saw: success, a definite refusal, or (stat) the token found, null when absent. */
export type NamespaceOutput = { readonly ok: true } | { readonly refused: 'NOT_FOUND' | 'ALREADY_EXISTS' } | { readonly token: number | null };

export type NamespaceOperation = Operation<NamespaceInput, NamespaceOutput>;

/** One directory: the token of the file under each name (null: no file). */
type DirState = readonly (number | null)[];

/**
 * The sequential specification of create (exclusive), rename (replacing the
 * target, as rename(2)), delete and stat on the names of one directory. A
 * file is told apart by its token (its mode), so a stat says which create
 * made the file it found. Directories are independent: histories split per
 * directory (renames never cross one).
 */
export const namespaceModel: Model<DirState, NamespaceInput, NamespaceOutput> = {
  init: () => NAMES.map(() => null),
  step(state, input, output) {
    const at = (name: Name) => NAMES.indexOf(name);
    const set = (changes: Array<[Name, number | null]>): DirState => {
      const next = state.slice();
      for (const [name, value] of changes) next[at(name)] = value;
      return next;
    };
    const refused = (code: 'NOT_FOUND' | 'ALREADY_EXISTS') => ({ ok: output === undefined || ('refused' in output && output.refused === code), state });
    const succeeded = (next: DirState) => ({ ok: output === undefined || 'ok' in output, state: next });
    switch (input.kind) {
      case 'create':
        return state[at(input.name)] !== null ? refused('ALREADY_EXISTS') : succeeded(set([[input.name, input.token]]));
      case 'rename': {
        const token = state[at(input.from)]!;
        return token === null ? refused('NOT_FOUND') : succeeded(set([[input.to, token], [input.from, null]]));
      }
      case 'delete':
        return state[at(input.name)] === null ? refused('NOT_FOUND') : succeeded(set([[input.name, null]]));
      case 'stat':
        return { ok: output === undefined || ('token' in output && output.token === state[at(input.name)]), state };
    }
  },
  key: (state) => state.map((t) => (t === null ? '-' : String(t))).join(','),
  partition(history) {
    const byDir = new Map<number, NamespaceOperation[]>();
    for (const op of history) {
      const list = byDir.get(op.input.dir);
      if (list === undefined) byDir.set(op.input.dir, [op]);
      else list.push(op);
    }
    return [...byDir.values()];
  },
  describe(op) {
    const i = op.input;
    const what =
      i.kind === 'create' ? `create(d${i.dir}/${i.name}, ${i.token})` : i.kind === 'rename' ? `rename(d${i.dir}/${i.from} -> ${i.to})` : `${i.kind}(d${i.dir}/${i.name})`;
    const got = op.output === undefined ? '?' : 'ok' in op.output ? 'ok' : 'refused' in op.output ? op.output.refused : JSON.stringify(op.output.token);
    return `[${op.call}, ${op.return}] ${op.client}: ${what} -> ${got}`;
  },
};
