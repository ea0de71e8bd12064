/**
 * A fluid network: every node has an uplink and a downlink of the same
 * bandwidth; a flow carries one chunk from a source to a receiver. Each time
 * step, rates are shared max-min fairly (progressive filling, a few rounds)
 * between the flows on each link, and each flow is also capped by what it may
 * carry: the rest of its chunk, and, when its source is itself still
 * receiving the chunk, what the source had at the start of the step minus one
 * frame (cut-through: bytes are forwarded a frame at a time, so a child trails
 * its parent by a frame and a step).
 *
 * Struct-of-arrays throughout: 20,000 flows stepped 10,000 times must take
 * seconds, not minutes.
 */
export interface FlowEnds {
  src: number;
  dst: number;
  chunk: number;
}

/** What the network needs to know about chunks: sizes and who has how much. */
export interface ChunkBytes {
  /** Bytes of `chunk` that `node` has (whole: the chunk's size). */
  have(node: number, chunk: number): number;
  /** Whether `node` has all of `chunk` (a whole holder: no cut-through lag). */
  whole(node: number, chunk: number): boolean;
  size(chunk: number): number;
  /** Adds bytes to what `dst` has; the network calls it once per flow per step. */
  receive(dst: number, chunk: number, bytes: number): void;
}

/** Rounds of progressive filling per step: 10 gave the same completion times as 4. */
const FILL_ROUNDS = 4;
/** A flow this close to its chunk's size is complete (fractional steps can stop a hair short). */
const BYTE_FRACTION = 1e-3;

export class FluidNetwork {
  private capacity = 1024;
  private src = new Int32Array(this.capacity);
  private dst = new Int32Array(this.capacity);
  private chunk = new Int32Array(this.capacity);
  private readyAt = new Float64Array(this.capacity);
  private cap = new Float64Array(this.capacity);
  private rate = new Float64Array(this.capacity);
  private inc = new Float64Array(this.capacity);
  private open = new Uint8Array(this.capacity);
  private listPos = new Int32Array(this.capacity);
  private readonly free: number[] = [];
  private next = 0;
  /** Dense list of open flows: steps iterate only these. */
  private readonly active: number[] = [];
  private readonly upRem: Float64Array;
  private readonly downRem: Float64Array;
  private readonly upCount: Int32Array;
  private readonly downCount: Int32Array;
  /** Bytes each node has sent. */
  readonly sentBytes: Float64Array;
  /** Bytes that moved within one rack, and within one zone (rack included). */
  sameRackBytes = 0;
  sameZoneBytes = 0;

  constructor(
    nodes: number,
    private readonly bandwidthBytesPerS: number,
    private readonly frameBytes: number,
    private readonly bytes: ChunkBytes,
    private readonly rackOf: Int32Array,
    private readonly zoneOf: Int32Array,
  ) {
    this.upRem = new Float64Array(nodes);
    this.downRem = new Float64Array(nodes);
    this.upCount = new Int32Array(nodes);
    this.downCount = new Int32Array(nodes);
    this.sentBytes = new Float64Array(nodes);
  }

  /** Opens a flow that starts carrying bytes at `readyAt` (after the request's round trip). */
  openFlow(ends: FlowEnds, readyAt: number): number {
    let f = this.free.pop();
    if (f === undefined) {
      if (this.next === this.capacity) this.grow();
      f = this.next++;
    }
    this.src[f] = ends.src;
    this.dst[f] = ends.dst;
    this.chunk[f] = ends.chunk;
    this.readyAt[f] = readyAt;
    this.rate[f] = 0;
    this.open[f] = 1;
    this.listPos[f] = this.active.length;
    this.active.push(f);
    return f;
  }

  closeFlow(f: number): void {
    if (this.open[f] !== 1) return;
    this.open[f] = 0;
    const at = this.listPos[f]!;
    const last = this.active.pop()!;
    if (last !== f) {
      this.active[at] = last;
      this.listPos[last] = at;
    }
    this.free.push(f);
  }

  ends(f: number): FlowEnds {
    return { src: this.src[f]!, dst: this.dst[f]!, chunk: this.chunk[f]! };
  }

  /** Open flows from or to `node` (a scan: used when a node crashes, which is rare). */
  flowsOf(node: number): number[] {
    return this.active.filter((f) => this.src[f] === node || this.dst[f] === node);
  }

  /** Moves bytes for `dt` seconds from `now`; returns the flows whose chunk is now complete at the receiver. */
  step(now: number, dt: number): number[] {
    const { active, src, dst, chunk, cap, rate, inc, upRem, downRem, upCount, downCount, bytes } = this;
    const B = this.bandwidthBytesPerS;
    const eps = B * 1e-9;
    const completed: number[] = [];
    for (let i = 0; i < active.length; i++) {
      const f = active[i]!;
      const s = src[f]!;
      const d = dst[f]!;
      const c = chunk[f]!;
      rate[f] = 0;
      upRem[s] = B;
      downRem[d] = B;
      if (now + dt <= this.readyAt[f]!) {
        cap[f] = 0;
        continue;
      }
      const mine = bytes.have(d, c);
      const left = bytes.size(c) - mine;
      if (left < BYTE_FRACTION) {
        cap[f] = 0;
        completed.push(f);
        continue;
      }
      const ahead = bytes.whole(s, c) ? left : bytes.have(s, c) - this.frameBytes - mine;
      const usable = Math.min(dt, now + dt - this.readyAt[f]!);
      cap[f] = Math.max(0, Math.min(left, ahead)) / usable;
    }
    for (let round = 0; round < FILL_ROUNDS; round++) {
      let unsaturated = 0;
      for (let i = 0; i < active.length; i++) {
        const f = active[i]!;
        upCount[src[f]!] = 0;
        downCount[dst[f]!] = 0;
      }
      for (let i = 0; i < active.length; i++) {
        const f = active[i]!;
        if (rate[f]! >= cap[f]! - eps || upRem[src[f]!]! <= eps || downRem[dst[f]!]! <= eps) continue;
        upCount[src[f]!]!++;
        downCount[dst[f]!]!++;
        unsaturated++;
      }
      if (unsaturated === 0) break;
      for (let i = 0; i < active.length; i++) {
        const f = active[i]!;
        const s = src[f]!;
        const d = dst[f]!;
        if (rate[f]! >= cap[f]! - eps || upRem[s]! <= eps || downRem[d]! <= eps) {
          inc[f] = 0;
          continue;
        }
        inc[f] = Math.min(upRem[s]! / upCount[s]!, downRem[d]! / downCount[d]!, cap[f]! - rate[f]!);
      }
      for (let i = 0; i < active.length; i++) {
        const f = active[i]!;
        const add = inc[f]!;
        if (add === 0) continue;
        rate[f]! += add;
        upRem[src[f]!]! -= add;
        downRem[dst[f]!]! -= add;
      }
    }
    for (let i = 0; i < active.length; i++) {
      const f = active[i]!;
      const r = rate[f]!;
      if (r <= 0) continue;
      const c = chunk[f]!;
      const d = dst[f]!;
      const usable = Math.min(dt, now + dt - this.readyAt[f]!);
      const moved = Math.min(r * usable, bytes.size(c) - bytes.have(d, c));
      const s = src[f]!;
      bytes.receive(d, c, moved);
      this.sentBytes[s]! += moved;
      if (this.zoneOf[s] === this.zoneOf[d]) {
        this.sameZoneBytes += moved;
        if (this.rackOf[s] === this.rackOf[d]) this.sameRackBytes += moved;
      }
      if (bytes.size(c) - bytes.have(d, c) < BYTE_FRACTION) completed.push(f);
    }
    return completed;
  }

  private grow(): void {
    const n = this.capacity * 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(old: T): T => {
      const next = new (old.constructor as new (n: number) => T)(n);
      next.set(old);
      return next;
    };
    this.src = grow(this.src);
    this.dst = grow(this.dst);
    this.chunk = grow(this.chunk);
    this.readyAt = grow(this.readyAt);
    this.cap = grow(this.cap);
    this.rate = grow(this.rate);
    this.inc = grow(this.inc);
    this.open = grow(this.open);
    this.listPos = grow(this.listPos);
    this.capacity = n;
  }
}
