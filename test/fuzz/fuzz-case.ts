import type protobuf from 'protobufjs';
import { Prng } from '../sim/prng.js';
import { mutateBytes } from './byte-mutator.js';
import type { FuzzWorld } from './fuzz-world.js';
import { harmfulReason } from './harm-guard.js';
import { hostileMessage } from './hostile-message.js';
import { seededBytes } from './hostile-values.js';
import { mutateMessage } from './message-mutator.js';
import { plausibleMessage, type PlainMessage } from './plausible-message.js';
import type { FuzzMethod } from './schema.js';

/**
 * One fuzzed call, made from (seed, method, index) alone, so any failure
 * reproduces from the three numbers it prints.
 */

export const CASE_KINDS = ['plausible', 'hostile', 'mutated', 'bytes', 'oversize'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** How a streaming call ends after its frames are sent. */
export type StreamEnding = { kind: 'half-close' } | { kind: 'cancel'; afterMs: number } | { kind: 'cancel-after-first-response' };

export interface FuzzCase {
  method: FuzzMethod;
  kind: CaseKind;
  /** The encoded request messages (one for unary and server-streaming calls). */
  frames: Buffer[];
  ending: StreamEnding;
  /** Frames that a guard replaced because, well-formed, they would legitimately destroy the reference data. */
  guarded: number;
}

/** What the cluster's servers accept in one message (common/limits.ts), per kind of server. */
export interface MessageLimits {
  master: number;
  chunkserver: number;
}

const GUARD_TRIES = 20;

/** A stable 32-bit seed per case: the run's seed, the method's name and the case's index. */
export function caseSeed(runSeed: number, method: FuzzMethod, index: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const ch of `${method.fullName}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export function makeCase(runSeed: number, method: FuzzMethod, index: number, world: FuzzWorld, limits: MessageLimits): FuzzCase {
  const rng = new Prng(caseSeed(runSeed, method, index));
  const maxBytes = limits[method.server];
  const kind = pickKind(rng);
  const streaming = method.shape === 'client-stream' || method.shape === 'bidi';
  const frameCount = streaming ? rng.pick([0, 1, 1, 2, 3, 5, 8]) : 1;
  const frames: Buffer[] = [];
  let guarded = 0;
  for (let i = 0; i < frameCount; i++) {
    const frameKind = i === 0 ? kind : pickKind(rng);
    let frame: Buffer | undefined;
    for (let attempt = 0; attempt < GUARD_TRIES && frame === undefined; attempt++) {
      const candidate = makeFrame(frameKind, method.requestType, world, rng, maxBytes);
      if (harmfulReason(method, candidate, world) === undefined) frame = candidate;
      else guarded++;
    }
    // Every try was harmful (rare): send an empty message, which is a request of defaults.
    frames.push(frame ?? Buffer.alloc(0));
  }
  return { method, kind, frames, ending: pickEnding(rng, method), guarded };
}

function pickKind(rng: Prng): CaseKind {
  const r = rng.next();
  if (r < 0.15) return 'plausible';
  if (r < 0.45) return 'hostile';
  if (r < 0.75) return 'mutated';
  if (r < 0.98) return 'bytes';
  return 'oversize';
}

function pickEnding(rng: Prng, method: FuzzMethod): StreamEnding {
  if (method.shape === 'unary') return { kind: 'half-close' };
  const r = rng.next();
  if (r < 0.7) return { kind: 'half-close' };
  if (r < 0.85) return { kind: 'cancel', afterMs: rng.int(0, 50) };
  return { kind: 'cancel-after-first-response' };
}

function makeFrame(kind: CaseKind, type: protobuf.Type, world: FuzzWorld, rng: Prng, maxBytes: number): Buffer {
  // Most messages stay well under the limit, so they reach the handler.
  const budget = Math.min(maxBytes >> 2, 256 * 1024);
  switch (kind) {
    case 'plausible':
      return encode(type, plausibleMessage(type, world, rng), rng, world);
    case 'hostile':
      return encode(type, hostileMessage(type, rng, budget), rng, world);
    case 'mutated':
      return encode(type, mutateMessage(type, plausibleMessage(type, world, rng), rng, budget), rng, world);
    case 'bytes':
      return rng.chance(0.8) ? mutateBytes(encode(type, plausibleMessage(type, world, rng), rng, world), rng) : seededBytes(rng, rng.int(0, 256));
    case 'oversize': {
      // A well-formed message (an unknown length-delimited field pads it) just past the limit, or far past.
      const base = encode(type, plausibleMessage(type, world, rng), rng, world);
      const padBytes = maxBytes + rng.pick([1, 1024, maxBytes]) - base.length;
      return Buffer.concat([base, unknownField(Math.max(1, padBytes))]);
    }
  }
}

/** Field 2047, length-delimited: unknown to every message, so it decodes and is skipped. */
function unknownField(length: number): Buffer {
  const header = [0xfa, 0x7f]; // (2047 << 3) | 2 as a varint
  const len: number[] = [];
  let n = length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  len.push(n);
  return Buffer.concat([Buffer.from([...header, ...len]), Buffer.alloc(length, 0x61)]);
}

/** Encodes a plain message; a value protobufjs cannot encode falls back to a plausible message. */
function encode(type: protobuf.Type, message: PlainMessage, rng: Prng, world: FuzzWorld): Buffer {
  try {
    const bytes = type.encode(type.fromObject(message)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch {
    const bytes = type.encode(type.fromObject(plausibleMessage(type, world, rng))).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
