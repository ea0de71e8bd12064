import { CONVERSION } from '../../proto/load.js';
import type { FuzzMethod } from './schema.js';

/**
 * A short, readable description of what a call sent: each frame decoded
 * (long strings, bytes and arrays cut), or its first bytes in hex when it
 * does not decode. For failure reports: a reproduced case can be read.
 */
export function summarizeFrames(method: FuzzMethod, frames: Buffer[]): string {
  return frames.map((f, i) => `frame ${i} (${f.length} bytes): ${summarizeFrame(method, f)}`).join('\n');
}

function summarizeFrame(method: FuzzMethod, frame: Buffer): string {
  try {
    const decoded = method.requestType.toObject(method.requestType.decode(frame), CONVERSION);
    return JSON.stringify(decoded, (_key, value: unknown) => shorten(value)).slice(0, 2000);
  } catch (err) {
    return `undecodable (${err instanceof Error ? err.message : String(err)}): ${frame.subarray(0, 64).toString('hex')}`;
  }
}

function shorten(value: unknown): unknown {
  if (typeof value === 'string' && value.length > 80) return `${value.slice(0, 40)}…(${value.length} chars)`;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value) && value.length > 5) return [...value.slice(0, 5), `…(${value.length} items)`];
  return value;
}
