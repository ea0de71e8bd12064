import type { Model, Operation } from './history.js';

export type CheckResult<Input, Output> =
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'illegal'; readonly partition: ReadonlyArray<Operation<Input, Output>>; readonly explanation: string }
  | { readonly outcome: 'unknown'; readonly reason: string };

export interface CheckOptions {
  /** Search steps per partition before giving up with 'unknown'. */
  maxSteps?: number;
}

interface Node {
  readonly kind: 'call' | 'return';
  readonly id: number;
  readonly time: number;
  /** For a call, its return node. */
  match: Node | null;
  prev: Node | null;
  next: Node | null;
}

/**
 * Wing & Gong's search with Lowe's memoization, as in Porcupine: walk the
 * history's call/return events in time order, linearize any operation whose
 * call is reached (if the model allows it), and backtrack when a return is
 * reached whose operation is still pending. A (linearized set, state) pair
 * already explored is never explored again. Histories split into independent
 * partitions (P-compositionality) first.
 */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: ReadonlyArray<Operation<Input, Output>>,
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const partitions = model.partition ? model.partition(history) : [history.slice()];
  for (const part of partitions) {
    const result = checkPartition(model, part, options.maxSteps ?? 10_000_000);
    if (result !== 'ok') {
      if (result === 'unknown') return { outcome: 'unknown', reason: `search budget exhausted on a partition of ${part.length} operations` };
      return { outcome: 'illegal', partition: part, explanation: explain(model, part, result) };
    }
  }
  return { outcome: 'ok' };
}

function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  part: ReadonlyArray<Operation<Input, Output>>,
  longest: number[],
): string {
  const describe = model.describe ?? ((op: Operation<Input, Output>) => JSON.stringify(op));
  const lines = ['no linearization; the longest linearizable prefix found:'];
  for (const id of longest) lines.push(`  ${describe(part[id]!)}`);
  const stuck = part.map((_, i) => i).filter((i) => !longest.includes(i));
  lines.push('could not be placed after it:');
  for (const id of stuck.slice(0, 10)) lines.push(`  ${describe(part[id]!)}`);
  return lines.join('\n');
}

function buildList<Input, Output>(ops: ReadonlyArray<Operation<Input, Output>>): Node {
  const events: Node[] = [];
  ops.forEach((op, id) => {
    const ret: Node = { kind: 'return', id, time: op.return, match: null, prev: null, next: null };
    const call: Node = { kind: 'call', id, time: op.call, match: ret, prev: null, next: null };
    events.push(call, ret);
  });
  // Equal times count as concurrent: calls sort before returns.
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? a.id - b.id : a.kind === 'call' ? -1 : 1));
  const head: Node = { kind: 'call', id: -1, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift(call: Node): void {
  const ret = call.match!;
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

class Bitset {
  private readonly words: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** The set with `i` added, as a string key, without changing this set. */
  keyWith(i: number): string {
    this.set(i);
    const key = this.key();
    this.clear(i);
    return key;
  }

  key(): string {
    let s = '';
    for (const w of this.words) s += String.fromCharCode(w & 0xffff, w >>> 16);
    return s;
  }
}

/** 'ok', 'unknown', or the longest linearized prefix found (ids) when illegal. */
function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: ReadonlyArray<Operation<Input, Output>>,
  maxSteps: number,
): 'ok' | 'unknown' | number[] {
  if (ops.length === 0) return 'ok';
  const head = buildList(ops);
  const linearized = new Bitset(ops.length);
  const seen = new Set<string>();
  const stack: Array<{ call: Node; state: State }> = [];
  let longest: number[] = [];
  let state = model.init();
  let entry: Node | null = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > maxSteps) return 'unknown';
    if (entry !== null && entry.kind === 'call') {
      const op = ops[entry.id]!;
      const next = model.step(state, op.input, op.output);
      if (next.ok) {
        const key = `${linearized.keyWith(entry.id)}|${model.key(next.state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next.state;
          linearized.set(entry.id);
          lift(entry);
          if (stack.length > longest.length) longest = stack.map((s) => s.call.id);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A pending operation must have taken effect before it returned: undo the last choice.
      const top = stack.pop();
      if (top === undefined) return longest;
      state = top.state;
      linearized.clear(top.call.id);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return 'ok';
}
