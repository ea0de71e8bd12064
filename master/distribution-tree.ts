import { assert } from '../common/assert.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';

/** A slot's relation to one chunk at its current version. */
export const ABSENT = 0;
export const WANTING = 1;
export const HELD = 2;
export const NO_SLOT = -1;

/**
 * One chunk's distribution state over the planner's slots, in typed arrays
 * (10,000 members x 160 chunks stays a few tens of MB): who holds the chunk
 * whole, who is receiving it and from which parent, and each parent's
 * children as an intrusive doubly linked list, so that a completion detaches
 * in O(1) and a dead parent's orphans are found without a scan. Holders and
 * receivers are also kept in dense lists for O(1) random picks.
 *
 * Receivers form a forest whose roots hang off holders (or off nothing, while
 * no holder is known: `sourceless`). A holder has no parent, so a cycle could
 * only run through receivers; the planner never attaches a receiver below
 * its own subtree.
 */
export class ChunkTree {
  state: Uint8Array;
  parent: Int32Array;
  childCount: Int32Array;
  private firstChild: Int32Array;
  private nextSibling: Int32Array;
  private prevSibling: Int32Array;
  /** Position in `holderSlots` or `wantingSlots`, whichever its state says. */
  private pos: Int32Array;
  private dirtyFlag: Uint8Array;
  readonly holderSlots: number[] = [];
  readonly wantingSlots: number[] = [];
  /** Members holding it (a subset of `holderSlots`, by id): what status reads. */
  readonly memberHolders = new Set<ServerId>();
  /** Slots whose task changed since the last `takeDirty` (may repeat or be stale: checked there). */
  private dirtyList: number[] = [];
  /** Receivers with no parent: no source was known when they needed one. */
  readonly sourceless = new Set<number>();
  /** The holders the chunk was set with (its durable replicas): sources of last resort, roots first. */
  readonly origins = new Set<number>();

  constructor(
    readonly handle: ChunkHandle,
    public version: ChunkVersion,
    public order: number,
    capacity: number,
    /** Children per slot over every chunk (shared by all trees): a parent's load, for tie-breaks. */
    private readonly load: number[],
  ) {
    const n = Math.max(capacity, 16);
    this.state = new Uint8Array(n);
    this.parent = new Int32Array(n).fill(NO_SLOT);
    this.childCount = new Int32Array(n);
    this.firstChild = new Int32Array(n).fill(NO_SLOT);
    this.nextSibling = new Int32Array(n).fill(NO_SLOT);
    this.prevSibling = new Int32Array(n).fill(NO_SLOT);
    this.pos = new Int32Array(n).fill(NO_SLOT);
    this.dirtyFlag = new Uint8Array(n);
  }

  /** Room for slots below `capacity` (amortized doubling). */
  reserve(capacity: number): void {
    if (capacity <= this.state.length) return;
    const n = Math.max(capacity, this.state.length * 2);
    const grow = <T extends Uint8Array | Int32Array>(old: T, fill: number): T => {
      const next = new (old.constructor as new (n: number) => T)(n);
      next.fill(fill);
      next.set(old);
      return next;
    };
    this.state = grow(this.state, ABSENT);
    this.parent = grow(this.parent, NO_SLOT);
    this.childCount = grow(this.childCount, 0);
    this.firstChild = grow(this.firstChild, NO_SLOT);
    this.nextSibling = grow(this.nextSibling, NO_SLOT);
    this.prevSibling = grow(this.prevSibling, NO_SLOT);
    this.pos = grow(this.pos, NO_SLOT);
    this.dirtyFlag = grow(this.dirtyFlag, 0);
  }

  /** Forgets every slot's state (a new version): O(capacity). */
  clear(version: ChunkVersion, order: number): void {
    for (const slot of this.wantingSlots) {
      const parent = this.parent[slot]!;
      if (parent !== NO_SLOT) this.load[parent]!--;
    }
    this.version = version;
    this.order = order;
    this.state.fill(ABSENT);
    this.parent.fill(NO_SLOT);
    this.childCount.fill(0);
    this.firstChild.fill(NO_SLOT);
    this.nextSibling.fill(NO_SLOT);
    this.prevSibling.fill(NO_SLOT);
    this.pos.fill(NO_SLOT);
    this.dirtyFlag.fill(0);
    this.holderSlots.length = 0;
    this.wantingSlots.length = 0;
    this.memberHolders.clear();
    this.dirtyList = [];
    this.sourceless.clear();
    this.origins.clear();
  }

  /** ABSENT -> HELD or WANTING -> HELD (it keeps its children, loses its parent). */
  setHeld(slot: number, memberId: ServerId | undefined): void {
    if (this.state[slot] === HELD) return;
    if (this.state[slot] === WANTING) this.setAbsent(slot);
    this.state[slot] = HELD;
    this.pos[slot] = this.holderSlots.length;
    this.holderSlots.push(slot);
    if (memberId !== undefined) this.memberHolders.add(memberId);
  }

  /** ABSENT -> WANTING or HELD -> WANTING (it keeps its children), with no parent yet. */
  setWanting(slot: number, memberId: ServerId | undefined): void {
    if (this.state[slot] === WANTING) return;
    if (this.state[slot] === HELD) this.setAbsent(slot, memberId);
    this.state[slot] = WANTING;
    this.pos[slot] = this.wantingSlots.length;
    this.wantingSlots.push(slot);
  }

  /** To ABSENT: out of its list and off its parent. Its children stay attached (the caller moves them). */
  setAbsent(slot: number, memberId?: ServerId): void {
    const state = this.state[slot];
    if (state === ABSENT) return;
    if (state === WANTING) {
      this.detach(slot);
      this.sourceless.delete(slot);
    } else {
      this.origins.delete(slot);
      if (memberId !== undefined) this.memberHolders.delete(memberId);
    }
    const list = state === HELD ? this.holderSlots : this.wantingSlots;
    const at = this.pos[slot]!;
    const last = list.pop()!;
    if (last !== slot) {
      list[at] = last;
      this.pos[last] = at;
    }
    this.pos[slot] = NO_SLOT;
    this.state[slot] = ABSENT;
  }

  attach(child: number, parent: number): void {
    assert(this.state[child] === WANTING, `slot ${child} is not receiving chunk ${this.handle}`);
    assert(this.state[parent] !== ABSENT && parent !== child, `slot ${parent} cannot be a parent of ${child}`);
    this.detach(child);
    this.sourceless.delete(child);
    this.parent[child] = parent;
    const head = this.firstChild[parent]!;
    this.nextSibling[child] = head;
    this.prevSibling[child] = NO_SLOT;
    if (head !== NO_SLOT) this.prevSibling[head] = child;
    this.firstChild[parent] = child;
    this.childCount[parent]!++;
    this.load[parent]!++;
  }

  detach(child: number): void {
    const parent = this.parent[child]!;
    if (parent === NO_SLOT) return;
    const prev = this.prevSibling[child]!;
    const next = this.nextSibling[child]!;
    if (prev === NO_SLOT) this.firstChild[parent] = next;
    else this.nextSibling[prev] = next;
    if (next !== NO_SLOT) this.prevSibling[next] = prev;
    this.parent[child] = NO_SLOT;
    this.nextSibling[child] = NO_SLOT;
    this.prevSibling[child] = NO_SLOT;
    this.childCount[parent]!--;
    this.load[parent]!--;
  }

  /** The children of `parent`, as a copy (the caller usually moves them). */
  children(parent: number): number[] {
    const out: number[] = [];
    for (let c = this.firstChild[parent]!; c !== NO_SLOT; c = this.nextSibling[c]!) out.push(c);
    return out;
  }

  /** Whether `slot` lies in the subtree under `root` (walks up from `slot`: O(depth)). */
  isBelow(slot: number, root: number): boolean {
    for (let s = this.parent[slot]!; s !== NO_SLOT; s = this.parent[s]!) if (s === root) return true;
    return false;
  }

  markDirty(slot: number): void {
    if (this.dirtyFlag[slot] === 1) return;
    this.dirtyFlag[slot] = 1;
    this.dirtyList.push(slot);
  }

  /** The slots marked since the last call, each once. */
  takeDirty(): number[] {
    const out: number[] = [];
    for (const slot of this.dirtyList) {
      if (this.dirtyFlag[slot] === 0) continue;
      this.dirtyFlag[slot] = 0;
      out.push(slot);
    }
    this.dirtyList = [];
    return out;
  }
}
