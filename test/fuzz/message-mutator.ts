import protobuf from 'protobufjs';
import type { Prng } from '../sim/prng.js';
import { hostileValue } from './hostile-message.js';
import type { PlainMessage, PlainValue } from './plausible-message.js';

/**
 * Typed mutations of a plausible message: one to three fields, possibly
 * nested, get a hostile value, go missing, or (repeated) get emptied or
 * repeated thousands of times. Everything else stays plausible, so the
 * request gets as far as the one bad field lets it.
 */
export function mutateMessage(type: protobuf.Type, message: PlainMessage, rng: Prng, budgetBytes: number): PlainMessage {
  const out = structuredCloneMessage(message);
  const n = rng.int(1, 3);
  for (let i = 0; i < n; i++) mutateOne(type, out, rng, budgetBytes, 0);
  return out;
}

function mutateOne(type: protobuf.Type, message: PlainMessage, rng: Prng, budgetBytes: number, depth: number): void {
  if (type.fieldsArray.length === 0) return;
  const field = rng.pick(type.fieldsArray);
  field.resolve();
  const current = message[field.name];
  // Descend into a nested message that is present: the bad value lands deeper.
  if (field.resolvedType instanceof protobuf.Type && depth < 3 && rng.chance(0.5)) {
    if (field.repeated && Array.isArray(current) && current.length > 0) {
      const item = rng.pick(current);
      if (isMessage(item)) return mutateOne(field.resolvedType, item, rng, budgetBytes, depth + 1);
    } else if (isMessage(current)) {
      return mutateOne(field.resolvedType, current, rng, budgetBytes, depth + 1);
    }
  }
  const r = rng.next();
  if (r < 0.2) {
    delete message[field.name];
    return;
  }
  const budget = { left: budgetBytes };
  if (field.repeated) {
    const items = Array.isArray(current) ? current : [];
    if (r < 0.4) message[field.name] = [];
    else if (r < 0.6 && items.length > 0) message[field.name] = Array.from({ length: rng.int(100, 3000) }, () => items[0]!);
    else message[field.name] = [...items, hostileValue(field, rng, budget, depth, false)].filter((v) => v !== null);
    return;
  }
  const v = hostileValue(field, rng, budget, depth, false);
  if (v === null) delete message[field.name];
  else message[field.name] = v;
}

function isMessage(v: PlainValue | undefined): v is PlainMessage {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function structuredCloneMessage(m: PlainMessage): PlainMessage {
  const out: PlainMessage = {};
  for (const [k, v] of Object.entries(m)) out[k] = cloneValue(v);
  return out;
}

function cloneValue(v: PlainValue): PlainValue {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (isMessage(v)) return structuredCloneMessage(v);
  return v;
}
