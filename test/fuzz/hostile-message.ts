import protobuf from 'protobufjs';
import type { Prng } from '../sim/prng.js';
import { hostileDouble, hostileInt32, hostileInt64, hostileString, hostileUint32, hostileUint64, randomBytes } from './hostile-values.js';
import type { PlainMessage, PlainValue } from './plausible-message.js';

/**
 * A well-typed message whose every value is hostile: edge numbers, paths
 * that climb out, empty and huge strings, fields left out (proto3 has no
 * "required", so a missing field is a default the server must not trust),
 * repeated fields with thousands of entries. `budgetBytes` bounds what the
 * message may carry, so most calls stay under the server's message limit
 * and reach the handler instead of the transport's size check.
 */
const MAX_DEPTH = 4;

export function hostileMessage(type: protobuf.Type, rng: Prng, budgetBytes: number, depth = 0): PlainMessage {
  const out: PlainMessage = {};
  const budget = { left: budgetBytes };
  for (const field of type.fieldsArray) {
    field.resolve();
    if (rng.chance(0.25)) continue; // left out
    if (field.repeated) {
      const n = depth >= MAX_DEPTH ? 0 : rng.chance(0.1) ? rng.int(1000, 5000) : rng.int(0, 4);
      const items: PlainValue[] = [];
      for (let i = 0; i < n && budget.left > 0; i++) {
        const v = hostileValue(field, rng, budget, depth, n > 100);
        if (v !== null) items.push(v);
      }
      out[field.name] = items;
    } else {
      const v = hostileValue(field, rng, budget, depth, false);
      if (v !== null) out[field.name] = v;
    }
  }
  return out;
}

/** A value for one field; `cheap` keeps each of thousands of entries small. */
export function hostileValue(field: protobuf.Field, rng: Prng, budget: { left: number }, depth: number, cheap: boolean): PlainValue {
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = Object.keys(field.resolvedType.values);
    // Numbers the enum does not define arrive as numbers on the wire too.
    return rng.chance(0.8) ? rng.pick(values) : rng.pick([-1, 99, 2147483647]);
  }
  if (field.resolvedType instanceof protobuf.Type) {
    if (depth >= MAX_DEPTH) return null;
    const inner = hostileMessage(field.resolvedType, rng, cheap ? 64 : Math.max(0, budget.left >> 2), depth + 1);
    budget.left -= 16;
    return inner;
  }
  switch (field.type) {
    case 'string': {
      const s = cheap ? hostileString(rng, 64) : hostileString(rng, Math.max(0, budget.left));
      budget.left -= Buffer.byteLength(s) + 2;
      return s;
    }
    case 'bytes': {
      const b = randomBytes(rng, cheap ? 64 : Math.max(0, budget.left));
      budget.left -= b.length + 2;
      return b;
    }
    case 'bool':
      budget.left -= 2;
      return rng.chance(0.5);
    case 'double':
    case 'float':
      budget.left -= 9;
      return hostileDouble(rng);
    case 'uint64':
    case 'fixed64':
      budget.left -= 11;
      return hostileUint64(rng);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      budget.left -= 11;
      return hostileInt64(rng);
    case 'uint32':
    case 'fixed32':
      budget.left -= 6;
      return hostileUint32(rng);
    default:
      budget.left -= 6;
      return hostileInt32(rng);
  }
}
