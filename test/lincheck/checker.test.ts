import { expect } from 'chai';
import { Prng } from '../sim/prng.js';
import { checkOperations } from './checker.js';
import { kvModel, type KvInput, type KvOperation, type KvOutput } from './kv-model.js';

const put = (client: string, key: string, value: string, call: number, ret: number): KvOperation => ({
  client,
  input: { kind: 'put', key, value },
  output: ret === Infinity ? undefined : {},
  call,
  return: ret,
});
const append = (client: string, key: string, value: string, call: number, ret: number): KvOperation => ({
  client,
  input: { kind: 'append', key, value },
  output: ret === Infinity ? undefined : {},
  call,
  return: ret,
});
const get = (client: string, key: string, value: string | null, call: number, ret: number): KvOperation => ({
  client,
  input: { kind: 'get', key },
  output: { value },
  call,
  return: ret,
});

function outcome(history: KvOperation[]): string {
  return checkOperations(kvModel, history).outcome;
}

describe('lincheck: Wing & Gong / Porcupine checker on a key-value model', () => {
  it('accepts a sequential history', () => {
    expect(outcome([put('a', 'x', '1', 0, 1), get('a', 'x', '1', 2, 3), append('a', 'x', '2', 4, 5), get('b', 'x', '12', 6, 7)])).to.equal('ok');
  });

  it('accepts a read concurrent with a write returning either value', () => {
    expect(outcome([put('a', 'x', '1', 0, 10), get('b', 'x', null, 1, 2), get('c', 'x', '1', 3, 4)])).to.equal('ok');
  });

  it('rejects a stale read after the write completed', () => {
    expect(outcome([put('a', 'x', '1', 0, 10), get('b', 'x', null, 11, 12)])).to.equal('illegal');
  });

  it('rejects a read that goes back in time (new then old)', () => {
    const h = [put('a', 'x', '1', 0, 100), get('b', 'x', '1', 10, 20), get('c', 'x', null, 30, 40)];
    expect(outcome(h)).to.equal('illegal');
  });

  it('rejects a value that was never written', () => {
    expect(outcome([put('a', 'x', '1', 0, 10), get('b', 'x', '2', 5, 12)])).to.equal('illegal');
  });

  it('rejects a lost append', () => {
    const h = [append('a', 'x', 'a', 0, 5), append('b', 'x', 'b', 1, 6), get('c', 'x', 'a', 10, 11)];
    expect(outcome(h)).to.equal('illegal');
  });

  it('accepts either order of concurrent appends, but not both orders', () => {
    const concurrent = [append('a', 'x', 'a', 0, 5), append('b', 'x', 'b', 1, 6)];
    expect(outcome([...concurrent, get('c', 'x', 'ba', 10, 11)])).to.equal('ok');
    expect(outcome([...concurrent, get('c', 'x', 'ab', 10, 11)])).to.equal('ok');
    expect(outcome([...concurrent, get('c', 'x', 'ab', 10, 11), get('d', 'x', 'ba', 12, 13)])).to.equal('illegal');
  });

  it('treats an operation that never returned as possibly applied, at any later time', () => {
    const lost = put('a', 'x', '1', 0, Infinity);
    expect(outcome([lost, get('b', 'x', null, 10, 11), get('c', 'x', '1', 20, 21)])).to.equal('ok');
    expect(outcome([lost, get('b', 'x', null, 10, 11)])).to.equal('ok');
    expect(outcome([lost, get('b', 'x', '1', 10, 11), get('c', 'x', null, 20, 21)])).to.equal('illegal');
  });

  it('checks keys independently and names the partition that fails', () => {
    const h = [put('a', 'x', '1', 0, 1), put('a', 'y', '1', 2, 3), get('b', 'x', '1', 4, 5), get('b', 'y', null, 6, 7)];
    const result = checkOperations(kvModel, h);
    expect(result.outcome).to.equal('illegal');
    if (result.outcome === 'illegal') {
      expect(result.partition.every((op) => op.input.key === 'y')).to.equal(true);
      expect(result.explanation).to.contain('get(y)');
    }
  });

  it('reports unknown when the search budget runs out', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 12; i++) h.push(append(`c${i}`, 'x', String(i), 0, 100));
    h.push(get('r', 'x', 'nope', 200, 201));
    expect(checkOperations(kvModel, h, { maxSteps: 50 }).outcome).to.equal('unknown');
  });

  it('memoizes (linearized set, state): 10 concurrent identical writes need far fewer than 10! steps', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 10; i++) h.push(put(`c${i}`, 'x', 'same', 0, 1000));
    h.push(get('r', 'x', 'other', 2000, 2001));
    expect(checkOperations(kvModel, h, { maxSteps: 100_000 }).outcome).to.equal('illegal');
  });

  describe('random histories from a linearizable register', () => {
    function generate(seed: number): KvOperation[] {
      const rng = new Prng(seed);
      const state = new Map<string, string | null>();
      // Each operation takes effect at a random instant inside [call, return].
      const planned: Array<{ client: string; input: KvInput; call: number; ret: number; at: number; lost: boolean }> = [];
      for (let c = 0; c < 5; c++) {
        let t = rng.int(0, 5);
        for (let i = 0; i < 12; i++) {
          const call = t;
          const ret = call + rng.int(1, 30);
          const key = rng.pick(['x', 'y']);
          const kind = rng.pick(['put', 'append', 'get'] as const);
          const input: KvInput = kind === 'get' ? { kind, key } : { kind, key, value: `${c}.${i}` };
          planned.push({ client: `c${c}`, input, call, ret, at: rng.int(call, ret) * 2 + 1, lost: kind !== 'get' && rng.chance(0.05) });
          t = ret + rng.int(1, 10);
        }
      }
      const outputs = new Map<number, KvOutput>();
      const order = planned.map((_, i) => i).sort((a, b) => planned[a]!.at - planned[b]!.at || a - b);
      for (const i of order) {
        const p = planned[i]!;
        const cur = state.get(p.input.key) ?? null;
        if (p.input.kind === 'get') outputs.set(i, { value: cur });
        else if (p.lost && rng.chance(0.5)) continue;
        else state.set(p.input.key, p.input.kind === 'put' ? p.input.value : (cur ?? '') + p.input.value);
        if (p.input.kind !== 'get') outputs.set(i, {});
      }
      return planned.map((p, i) => ({
        client: p.client,
        input: p.input,
        output: p.lost ? undefined : outputs.get(i),
        call: p.call * 2,
        return: p.lost ? Infinity : p.ret * 2 + 2,
      }));
    }

    it('accepts 200 generated linearizable histories', () => {
      for (let seed = 1; seed <= 200; seed++) expect(outcome(generate(seed)), `seed ${seed}`).to.equal('ok');
    });

    it('rejects the same histories once a read returns a value no write produced', () => {
      for (let seed = 1; seed <= 100; seed++) {
        const h = generate(seed);
        const i = h.findIndex((op) => op.input.kind === 'get');
        h[i] = { ...h[i]!, output: { value: 'never-written' } };
        expect(outcome(h), `seed ${seed}`).to.equal('illegal');
      }
    });
  });
});
