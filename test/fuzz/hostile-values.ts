import type { Prng } from '../sim/prng.js';

/**
 * Values chosen to break parsers and bounds checks, per protobuf scalar type.
 * 64-bit integers are decimal strings (as the codebase carries them); every
 * value here encodes on the wire, so what breaks is the server, not us.
 */

const U64 = ['0', '1', '2', '4294967295', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993', '9223372036854775807', '9223372036854775808', '18446744073709551615', '18446744073709551614', '1099511627776', '67108864', '67108865'];
const I64 = [...U64.slice(0, 12), '-1', '-9007199254740993', '-9223372036854775808', '-2'];
const U32 = [0, 1, 7, 255, 511, 4095, 4096, 0o7777, 0o10000, 65535, 65536, 2147483647, 2147483648, 4294967295];
const I32 = [0, 1, -1, -2147483648, 2147483647, 4096, -4096];
const DOUBLES = [0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e308, 5e-324, 100, 100.0001];

/** Path-ish strings: traversal, NUL, runs of '/', very long names, unicode. */
const PATHS = [
  '', '/', '//', '///etc/passwd', '/..', '/../..', '/../../etc/passwd', '../../etc/passwd', '..', '.', '/./', '/fuzz/../..',
  '/fuzz/x\u0000y', '\u0000', '/fuzz//x', '/fuzz/', 'relative/path', '/fuzz/\u202e\u0301\ud83d\ude00', '/fuzz/\ud800',
  '/fuzz/' + 'n'.repeat(255), '/fuzz/' + 'n'.repeat(256), ('/' + 'd'.repeat(200)).repeat(25), '/fuzz/a\nb', '/fuzz/a\\..\\b',
  '/tmp/dfs-fuzz-escape', '/etc/dfs-fuzz-escape', '../../../../tmp/dfs-fuzz-escape', '/fuzz/%2e%2e/%2e%2e',
  'C:\\Windows\\system32', '/proc/self/environ', '/dev/null', '~/.ssh/id_rsa', '/fuzz/ ', '/fuzz/\t',
];

/** Identifier-ish strings: handles and ids that try to become file names. */
const IDS = [
  '', '-1', '0', '../../etc/passwd', '..', '.', '/', 'a/b', '..\\..\\x', '\u0000', 'x'.repeat(65), 'x'.repeat(4096),
  'server-1', 'master-1', '$(touch /tmp/dfs-fuzz-escape)', '`id`', ';rm -rf /', '%s%s%n', '{{7*7}}', '\ud83d\ude00',
  '127.0.0.1:1', 'localhost:0', '[::1]:65536', 'host:99999', ':', 'dfs-fuzz-escape', '../dfs-fuzz-escape',
];

export function hostileUint64(rng: Prng): string {
  return rng.chance(0.8) ? rng.pick(U64) : String(rng.int(0, 2 ** 31) * rng.int(0, 2 ** 22));
}

export function hostileInt64(rng: Prng): string {
  return rng.chance(0.8) ? rng.pick(I64) : String(rng.int(-(2 ** 31), 2 ** 31) * rng.int(0, 2 ** 22));
}

export function hostileUint32(rng: Prng): number {
  return rng.chance(0.8) ? rng.pick(U32) : rng.int(0, 2 ** 32 - 1);
}

export function hostileInt32(rng: Prng): number {
  return rng.chance(0.8) ? rng.pick(I32) : rng.int(-(2 ** 31), 2 ** 31 - 1);
}

export function hostileDouble(rng: Prng): number {
  return rng.chance(0.8) ? rng.pick(DOUBLES) : (rng.next() - 0.5) * 10 ** rng.int(-10, 300);
}

/** Random bytes of a length that favours edges (0, 1, a block, a packet, past a packet). */
export function randomBytes(rng: Prng, maxBytes: number): Buffer {
  const lengths = [0, 1, 2, 17, 4096, 65536, 65537, 1024 * 1024, 1024 * 1024 + 1];
  const n = Math.min(maxBytes, rng.chance(0.7) ? rng.int(0, 64) : rng.pick(lengths));
  return seededBytes(rng, n);
}

/** n bytes drawn from the seed: a failure must reproduce byte for byte. */
export function seededBytes(rng: Prng, n: number): Buffer {
  const b = Buffer.alloc(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(Math.floor(rng.next() * 2 ** 32), i);
  for (; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

/** A hostile string: paths, ids, an empty or a 1 MiB one, unicode, random text. */
export function hostileString(rng: Prng, maxBytes: number): string {
  const r = rng.next();
  if (r < 0.35) return rng.pick(PATHS);
  if (r < 0.7) return rng.pick(IDS);
  if (r < 0.75) return 'x'.repeat(Math.min(maxBytes, 1024 * 1024));
  if (r < 0.8) return '\u00e9'.repeat(Math.min(maxBytes, rng.int(1, 5000)) >> 1);
  const n = rng.int(0, 40);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? rng.int(32, 126) : rng.int(0, 0xffff));
  return s;
}

/** Names that path-traversal payloads try to create: the storm must leave none of them anywhere. */
export const ESCAPE_MARKER = 'dfs-fuzz-escape';
