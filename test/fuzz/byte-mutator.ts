import type { Prng } from '../sim/prng.js';
import { seededBytes } from './hostile-values.js';

/**
 * Mutations of an encoded message, below protobuf: what a broken or hostile
 * peer's bytes look like. Some still decode (a flipped bit in a varint
 * changes a number, a cut drops the last fields), most do not (a truncated
 * varint or length, a wrong wire type, a length past the end).
 */
export function mutateBytes(input: Buffer, rng: Prng): Buffer {
  let b: Buffer = Buffer.from(input);
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) b = mutateOnce(b, rng);
  return b;
}

function mutateOnce(b: Buffer, rng: Prng): Buffer {
  const at = b.length === 0 ? 0 : rng.int(0, b.length - 1);
  switch (rng.int(0, 8)) {
    case 0: // flip one bit
      if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(0, 7));
      return b;
    case 1: // set a byte to an edge value
      if (b.length > 0) b[at] = rng.pick([0x00, 0x7f, 0x80, 0xff]);
      return b;
    case 2: // cut the tail
      return b.subarray(0, at);
    case 3: // insert random bytes
      return Buffer.concat([b.subarray(0, at), seededBytes(rng, rng.int(1, 16)), b.subarray(at)]);
    case 4: // delete a run
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 8)))]);
    case 5: // duplicate a run (repeats fields, or garbles a length)
      return Buffer.concat([b.subarray(0, at + 1), b.subarray(at, Math.min(b.length, at + rng.int(1, 32))), b.subarray(at + 1)]);
    case 6: // a varint that never ends
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(rng.int(10, 12), 0xff), b.subarray(at)]);
    case 7: // a length-delimited field whose length runs past the end
      return Buffer.concat([b, Buffer.from([((rng.int(1, 15) << 3) | 2) & 0xff, 0xff, 0xff, 0xff, 0x0f])]);
    default: // a field of an unknown number and every wire type
      return Buffer.concat([b, Buffer.from([((rng.int(100, 2000) << 3) | rng.int(0, 7)) & 0x7f | 0x80, 0x01, rng.int(0, 255)])]);
  }
}
