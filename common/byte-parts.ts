/**
 * A byte range held as consecutive pieces, in order. Large reads arrive as
 * 1 MiB frames; joining them into one buffer costs a copy and, worse, a
 * fresh allocation outside the V8 heap, which is what makes V8 collect
 * (a third of a mount's CPU while it streamed a file, before reads kept
 * their frames apart). Whoever needs one buffer joins at the last moment.
 */
export type ByteParts = readonly Buffer[];

export function partsLength(parts: ByteParts): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** One buffer: the piece itself when there is one, else a copy. */
export function joinParts(parts: ByteParts): Buffer {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return Buffer.alloc(0);
  return Buffer.concat(parts as Buffer[]);
}

/** The bytes [from, to) of `parts`, as views of the pieces (no copy); clipped to what there is. */
export function sliceParts(parts: ByteParts, from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const p of parts) {
    if (at >= to) break;
    const start = Math.max(0, from - at);
    const stop = Math.min(p.length, to - at);
    if (start < stop) out.push(p.subarray(start, stop));
    at += p.length;
  }
  return out;
}
