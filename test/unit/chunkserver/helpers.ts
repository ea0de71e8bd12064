import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfsError, type ErrorCode } from '../../../common/errors.js';

/** Runs `fn` and expects a DfsError with exactly `code`; returns it for further checks. */
export async function expectCode(promise: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<DfsError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).to.be.instanceOf(DfsError);
  expect((caught as DfsError).code).to.equal(code);
  return caught as DfsError;
}

/** A fresh temporary directory per test, removed afterwards. */
export function useTempDir(): { readonly path: string } {
  const holder = { path: '' };
  beforeEach(async () => {
    holder.path = await mkdtemp(join(tmpdir(), 'dfs-chunk-store-'));
  });
  afterEach(async () => {
    await rm(holder.path, { recursive: true, force: true });
  });
  return holder;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function patternBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded generator for randomized tests: print the seed on failure. */
export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** The bytes a replica should hold: apply the same changes in call order. */
export class ChunkModel {
  private bytes = Buffer.alloc(0);

  get length(): number {
    return this.bytes.length;
  }

  write(offset: number, data: Buffer): void {
    const end = offset + data.length;
    if (end > this.bytes.length) this.resize(end);
    data.copy(this.bytes, offset);
  }

  resize(length: number): void {
    const next = Buffer.alloc(length);
    this.bytes.copy(next, 0, 0, Math.min(length, this.bytes.length));
    this.bytes = next;
  }

  slice(offset: number, end: number): Buffer {
    return Buffer.from(this.bytes.subarray(offset, Math.min(end, this.bytes.length)));
  }
}
