import { assert } from './assert.js';

/**
 * Identifiers get their own types. Numeric ids are safe integers in memory
 * (asserted) and decimal strings on the wire, so nothing above 2^53 is ever lossy.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type InodeId = Brand<number, 'InodeId'>;
export type ChunkHandle = Brand<number, 'ChunkHandle'>;
export type ChunkVersion = Brand<number, 'ChunkVersion'>;
/** A chunkserver's stable UUID. */
export type ServerId = Brand<string, 'ServerId'>;
/** A client process's UUID, the first half of every request id. */
export type ClientId = Brand<string, 'ClientId'>;

export const ROOT_INODE = 1 as InodeId;

function safeInteger(value: number | string | bigint, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  assert(Number.isSafeInteger(n) && n >= 0, `${what} is not a safe non-negative integer: ${String(value)}`);
  return n;
}

export const inodeId = (v: number | string | bigint): InodeId => safeInteger(v, 'inode id') as InodeId;
export const chunkHandle = (v: number | string | bigint): ChunkHandle => safeInteger(v, 'chunk handle') as ChunkHandle;
export const chunkVersion = (v: number | string | bigint): ChunkVersion => safeInteger(v, 'chunk version') as ChunkVersion;
export const serverId = (v: string): ServerId => v as ServerId;
export const clientId = (v: string): ClientId => v as ClientId;

/**
 * Parses a 64-bit wire value that a peer sent. Unlike the constructors above it
 * does not assert: a value out of range is bad input, not a programmer error.
 */
export function parseWireInteger(value: string | number | undefined | null): number | undefined {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
