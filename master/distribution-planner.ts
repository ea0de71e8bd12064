import { assert } from '../common/assert.js';
import type { ChunkHandle, ChunkVersion, ServerId } from '../common/ids.js';
import { layoutTree } from './distribution-layout.js';
import { DistributionRoster, type DistributionMember } from './distribution-roster.js';
import { ChunkTree, HELD, NO_SLOT, WANTING } from './distribution-tree.js';

export type { DistributionMember } from './distribution-roster.js';

export interface PlannedTask {
  node: ServerId;
  handle: ChunkHandle;
  version: ChunkVersion;
  /**
   * Parent first (a holder, or a member receiving it: cut-through). While the
   * parent is receiving: then the node this one moves to if the parent dies
   * (its takeover, also receiving: the agent fails over where the master
   * will put it, and no uplink is overloaded meanwhile) and the grandparent.
   * Then up to `fallbacks` whole holders, origins last.
   */
  sources: ServerId[];
  order: number;
}

export interface DistributionPlannerOptions {
  /** Children per interior node per chunk, and the number of stripes. */
  fanout: number;
  /** Whole holders listed after the parent (takeover and grandparent) in each task. */
  fallbacks: number;
  random: () => number;
}

/** Candidates drawn at random when a node needs one parent outside a plan: O(1) per pick. */
const PICK_SAMPLES = 4;
const EMPTY: ReadonlySet<ServerId> = new Set();

/**
 * Decides, for every chunk of a file with replication `all` at its current
 * version, which member fetches it from which source (DESIGN.md §6). Pure and
 * synchronous: the distribution manager feeds it what heartbeats and the
 * chunk table say and sends `takeChanges()` to the nodes, whose agents fetch
 * by themselves (cut-through: a parent streams to its children as it
 * receives).
 *
 * When a chunk version appears, every member lacking it gets its place in one
 * low-depth tree at once (`distribution-layout.ts`): interior nodes from the
 * chunk's stripe, so each member's uplink carries about one file in total;
 * one root, hung off the least loaded origin, so the origin sends each chunk
 * about once. After that, work is proportional to what changed: a completion
 * detaches one node (O(1)); a death hands each of its children to its
 * takeover, a node whose uplink the death freed (O(chunks + children)); a
 * join attaches the newcomer in each chunk to the least loaded of a few
 * sampled holders and receivers (O(chunks)); a failed fetch gets a whole
 * holder (O(1)); a new version re-plans that chunk (O(members)). Nothing
 * scans members x chunks.
 */
export class DistributionPlanner {
  private readonly fanout: number;
  private readonly fallbacks: number;
  private readonly random: () => number;
  private readonly roster: DistributionRoster;
  private readonly chunks = new Map<ChunkHandle, ChunkTree>();
  private readonly dirtyChunks = new Set<ChunkTree>();
  private readonly cancels = new Map<ServerId, Set<ChunkHandle>>();
  /** Per slot: chunks held and wanted (members only), children over all chunks. */
  private readonly heldCount: number[] = [];
  private readonly wantedCount: number[] = [];
  private readonly load: number[] = [];
  /** Scratch of `takeovers`, per slot: who takes the slot over if its parent goes; and the stamp of the parent's last computation. */
  private readonly takeover: number[] = [];
  private readonly takeoverOf: number[] = [];
  private takeoverStamp = 0;
  /** Scratch of `sourcesOf`: the sources being chosen (slots), and the fallbacks' scores. */
  private readonly chosen: number[] = [];
  private readonly scores: number[] = [];
  /** Per slot and stripe (slot * fanout + stripe): its latest parent in a tree of that stripe. */
  private readonly stripeParent: number[] = [];
  private outstanding = 0;
  private work = 0;

  constructor(options: DistributionPlannerOptions) {
    assert(Number.isInteger(options.fanout) && options.fanout >= 1, `fanout must be a positive integer, got ${options.fanout}`);
    assert(Number.isInteger(options.fallbacks) && options.fallbacks >= 0, `fallbacks must be a non-negative integer, got ${options.fallbacks}`);
    this.fanout = options.fanout;
    this.fallbacks = options.fallbacks;
    this.random = options.random;
    this.roster = new DistributionRoster(options.fanout);
  }

  /** A member that joined or came back: it needs every chunk it does not hold. Idempotent. */
  addMember(member: DistributionMember): void {
    this.work++;
    const known = this.roster.slotOf(member.id);
    if (known !== undefined && this.roster.member[known]) return;
    const slot = this.slot(member.id);
    this.roster.join(slot, member);
    for (const tree of this.chunks.values()) {
      this.work++;
      tree.reserve(this.roster.capacity);
      if (tree.state[slot] === HELD) {
        this.heldCount[slot]!++;
        tree.memberHolders.add(member.id);
      } else {
        this.want(tree, slot);
        this.attachAnywhere(tree, slot);
      }
    }
  }

  /** Dead, or no longer active: forget it; its children get new parents (tasks re-issued). */
  removeMember(id: ServerId): void {
    const slot = this.roster.slotOf(id);
    if (slot === undefined) return;
    this.work++;
    for (const tree of this.chunks.values()) {
      this.work++;
      tree.reserve(this.roster.capacity);
      const state = tree.state[slot];
      if (state === WANTING || state === HELD) this.rehome(tree, slot);
      if (state === WANTING) this.outstanding--;
      tree.setAbsent(slot, id);
    }
    this.cancels.delete(id);
    this.heldCount[slot] = 0;
    this.wantedCount[slot] = 0;
    assert(this.load[slot] === 0, `a removed slot still has ${this.load[slot]} children`);
    this.roster.release(slot);
  }

  /**
   * `handle` at `version` must reach every member; `holders` have it whole at that version now; `order` is its
   * position in the file. A newer version replaces the older plan: every member not holding it needs it again.
   * Same version again: only adds holders. An older version is ignored.
   */
  setChunk(handle: ChunkHandle, version: ChunkVersion, order: number, holders: Iterable<ServerId>): void {
    this.work++;
    let tree = this.chunks.get(handle);
    if (tree !== undefined && version < tree.version) return;
    if (tree !== undefined && version === tree.version) {
      for (const id of holders) this.markHeld(tree, this.slot(id), true);
      this.feedSourceless(tree);
      return;
    }
    if (tree === undefined) {
      tree = new ChunkTree(handle, version, order, this.roster.capacity, this.load);
      this.chunks.set(handle, tree);
    } else {
      this.forgetCounts(tree);
      this.work += tree.state.length;
      tree.clear(version, order);
    }
    for (const id of holders) this.markHeld(tree, this.slot(id), true);
    this.plan(tree);
  }

  /** The chunk left the distribution tier (file deleted, replication lowered): forget it; members need nothing more of it (the manager sends cancels). */
  removeChunk(handle: ChunkHandle): void {
    this.work++;
    const tree = this.chunks.get(handle);
    if (tree === undefined) return;
    for (const slot of tree.wantingSlots) {
      const id = this.roster.ids[slot]!;
      if (!this.roster.member[slot]) continue;
      let set = this.cancels.get(id);
      if (set === undefined) {
        set = new Set();
        this.cancels.set(id, set);
      }
      set.add(handle);
    }
    this.forgetCounts(tree);
    tree.clear(tree.version, tree.order);
    this.chunks.delete(handle);
    this.dirtyChunks.delete(tree);
  }

  /** `node` holds `handle` whole at `version` or newer. */
  held(node: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
    this.work++;
    const tree = this.chunks.get(handle);
    if (tree === undefined || version < tree.version) return;
    this.markHeld(tree, this.slot(node), false);
    this.feedSourceless(tree);
  }

  /** `node` lost its replica (deleted, corrupt): it needs it again. */
  lost(node: ServerId, handle: ChunkHandle): void {
    this.work++;
    const tree = this.chunks.get(handle);
    const slot = this.roster.slotOf(node);
    if (tree === undefined || slot === undefined) return;
    tree.reserve(this.roster.capacity);
    if (tree.state[slot] !== HELD) return;
    if (!this.roster.member[slot]) {
      this.rehome(tree, slot);
      tree.setAbsent(slot);
      return;
    }
    this.heldCount[slot]!--;
    this.want(tree, slot);
    this.attachAnywhere(tree, slot);
  }

  /** `node` reported that no source could provide `handle` at `version`: give it new sources (a whole holder as parent). */
  failed(node: ServerId, handle: ChunkHandle, version: ChunkVersion): void {
    this.work++;
    const tree = this.chunks.get(handle);
    const slot = this.roster.slotOf(node);
    if (tree === undefined || slot === undefined || version !== tree.version) return;
    tree.reserve(this.roster.capacity);
    if (tree.state[slot] !== WANTING || !this.roster.member[slot]) return;
    const parent = this.pick(tree, slot, true, tree.parent[slot]!);
    if (parent !== NO_SLOT) this.link(tree, slot, parent);
    // Re-issued even with the same sources: the node waits for a task before trying again.
    if (tree.parent[slot] !== NO_SLOT) this.markDirty(tree, slot);
  }

  /** Tasks created or changed since the last call, by node (what to send now). Cancels are the handles a member had a task for and must drop. */
  takeChanges(): { tasks: Map<ServerId, PlannedTask[]>; cancels: Map<ServerId, ChunkHandle[]> } {
    const tasks = new Map<ServerId, PlannedTask[]>();
    for (const tree of this.dirtyChunks) {
      // Siblings share their parent's takeovers: computed once per parent per tree and call.
      this.takeoverStamp++;
      for (const slot of tree.takeDirty()) {
        this.work++;
        const parent = tree.parent[slot]!;
        if (tree.state[slot] !== WANTING || !this.roster.member[slot] || parent === NO_SLOT) continue;
        const node = this.roster.ids[slot]!;
        let list = tasks.get(node);
        if (list === undefined) {
          list = [];
          tasks.set(node, list);
        }
        list.push({ node, handle: tree.handle, version: tree.version, sources: this.sourcesOf(tree, slot, parent), order: tree.order });
      }
    }
    this.dirtyChunks.clear();
    const cancels = new Map<ServerId, ChunkHandle[]>();
    for (const [node, handles] of this.cancels) {
      const replaced = new Set((tasks.get(node) ?? []).map((t) => t.handle));
      const dropped = [...handles].filter((h) => !replaced.has(h));
      if (dropped.length > 0) cancels.set(node, dropped);
    }
    this.cancels.clear();
    return { tasks, cancels };
  }

  /** For status: members holding the chunk whole at its current version. */
  holders(handle: ChunkHandle): ReadonlySet<ServerId> {
    return this.chunks.get(handle)?.memberHolders ?? EMPTY;
  }

  /** For status: chunks `node` holds whole at their current version, and chunks it is still to get. */
  progressOf(node: ServerId): { held: number; wanted: number } | undefined {
    const slot = this.roster.slotOf(node);
    if (slot === undefined || !this.roster.member[slot]) return undefined;
    return { held: this.heldCount[slot]!, wanted: this.wantedCount[slot]! };
  }

  stats(): { members: number; chunks: number; tasksOutstanding: number } {
    return { members: this.roster.members, chunks: this.chunks.size, tasksOutstanding: this.outstanding };
  }

  /**
   * Elementary steps done so far (a member visited, a child moved, a
   * candidate weighed, a task built): a clock-free measure of each call's
   * cost, for tests and the simulation.
   */
  workDone(): number {
    return this.work;
  }

  /** The slot of a server, made (as a non-member) if new, with its per-slot counters. */
  private slot(id: ServerId): number {
    const known = this.roster.slotOf(id);
    if (known !== undefined) return known;
    const slot = this.roster.ensure(id);
    this.heldCount[slot] = 0;
    this.wantedCount[slot] = 0;
    this.load[slot] = 0;
    for (let s = 0; s < this.fanout; s++) this.stripeParent[slot * this.fanout + s] = NO_SLOT;
    return slot;
  }

  /** Lays out the tree of a chunk version over every member that lacks it. O(members). */
  private plan(tree: ChunkTree): void {
    tree.reserve(this.roster.capacity);
    const slots: number[] = [];
    this.roster.forEachInLocalityOrder((slot) => {
      this.work++;
      if (tree.state[slot] !== HELD) slots.push(slot);
    });
    for (const slot of slots) if (tree.state[slot] !== WANTING) this.want(tree, slot);
    if (tree.holderSlots.length === 0) {
      // Nothing to hang the tree on: every member waits, and the first holder to appear gets the plan.
      for (const slot of slots) tree.sourceless.add(slot);
      return;
    }
    const stripe = tree.order % this.fanout;
    const parentOf = layoutTree({
      slots,
      inStripe: (slot) => this.roster.stripeOf[slot] === stripe,
      fanout: this.fanout,
      random: this.random,
      rackOf: this.roster.rackOf,
      zoneOf: this.roster.zoneOf,
    });
    this.work += slots.length;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const parent = parentOf[i]!;
      if (parent >= 0) {
        this.link(tree, slot, slots[parent]!);
        this.markDirty(tree, slot);
      } else {
        this.attachRoot(tree, slot);
      }
    }
  }

  /** A tree's root hangs off the origin (a holder the chunk was set with) that carries the fewest children. */
  private attachRoot(tree: ChunkTree, slot: number): void {
    let best = NO_SLOT;
    for (const origin of tree.origins) {
      this.work++;
      if (best === NO_SLOT || this.load[origin]! < this.load[best]! || (this.load[origin] === this.load[best] && this.roster.nearness(slot, origin) < this.roster.nearness(slot, best))) best = origin;
    }
    if (best === NO_SLOT) best = this.pick(tree, slot, true, NO_SLOT);
    this.attachOrWait(tree, slot, best);
  }

  /** A node that needs the chunk outside a plan (join, loss): the least loaded of a few sampled holders and receivers (`pick`). */
  private attachAnywhere(tree: ChunkTree, slot: number): void {
    this.attachOrWait(tree, slot, this.pick(tree, slot, false, NO_SLOT));
  }

  private attachOrWait(tree: ChunkTree, slot: number, parent: number): void {
    if (parent === NO_SLOT) {
      tree.detach(slot);
      tree.sourceless.add(slot);
      return;
    }
    this.link(tree, slot, parent);
    this.markDirty(tree, slot);
  }

  /** Attaches, and remembers the parent as the child's parent in that stripe (see `replacementOf`). */
  private link(tree: ChunkTree, child: number, parent: number): void {
    tree.attach(child, parent);
    this.stripeParent[child * this.fanout + (tree.order % this.fanout)] = parent;
  }

  /**
   * Who takes over the `index`-th child of `slot` in this chunk's tree when
   * `slot` goes: the nodes whose uplink its departure frees. Its first child
   * goes to its own parent here (a live node ahead of it, one child fewer
   * now); the next ones to its parents in the trees of the other stripes
   * (each loses it as a leaf, so each has room for one child). No uplink
   * then carries more than its share, and every member's uplink stays at
   * about one file in total.
   */
  private replacementOf(tree: ChunkTree, slot: number, index: number): number {
    const turn = index % this.fanout;
    if (turn === 0) return tree.state[slot] === WANTING ? tree.parent[slot]! : NO_SLOT;
    return this.stripeParent[slot * this.fanout + ((tree.order + turn) % this.fanout)] ?? NO_SLOT;
  }

  /**
   * Who takes over each child of `slot` here when `slot` goes: its children
   * matched to the replacements (`replacementOf`), each replacement once, a
   * child never to itself nor to a node below it, the most constrained
   * child first, into `takeover` (per child); children left over (more than
   * fanout of them, or no valid replacement) get NO_SLOT.
   */
  private takeovers(tree: ChunkTree, slot: number): void {
    const children = tree.children(slot);
    const replacements: number[] = [];
    for (let turn = 0; turn < this.fanout; turn++) {
      const r = this.replacementOf(tree, slot, turn);
      replacements.push(replacements.includes(r) ? NO_SLOT : r);
    }
    const options = children.map((child, i) => {
      const valid: number[] = [];
      for (let t = 0; t < this.fanout; t++) {
        const r = replacements[(i + t) % this.fanout]!;
        if (this.canAdopt(tree, r, child, slot)) valid.push(r);
      }
      this.takeover[child] = NO_SLOT;
      return { child, valid };
    });
    options.sort((a, b) => a.valid.length - b.valid.length);
    const used: number[] = [];
    for (const { child, valid } of options) {
      const r = valid.find((v) => !used.includes(v) && !this.closesLoop(v, child, children));
      if (r === undefined) continue;
      used.push(r);
      this.takeover[child] = r;
    }
    this.takeoverOf[slot] = this.takeoverStamp;
  }

  /**
   * Whether handing `child` to `replacement` would close a loop among
   * siblings (a replacement can be a sibling: the dead node's parent in
   * another stripe may be its child here): follows the takeovers already
   * decided from `replacement` (in `takeover`, reset for the siblings first)
   * and sees if they lead back to `child`.
   */
  private closesLoop(replacement: number, child: number, siblings: readonly number[]): boolean {
    for (let at = replacement; siblings.includes(at); at = this.takeover[at]!) {
      this.work++;
      if (at === child) return true;
    }
    return false;
  }

  /**
   * `slot` leaves the chunk's tree (dead, or a holder that lost it): each
   * child goes to the node that takes it over (`takeovers`), the one its
   * agent already fails over to; a child without one goes to a holder; with
   * no holder at all it waits, sourceless.
   */
  private rehome(tree: ChunkTree, slot: number): void {
    this.takeoverStamp++;
    this.takeovers(tree, slot);
    const children = tree.children(slot);
    const taken = children.map((child) => this.takeover[child]!);
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      const takeover = taken[i]!;
      this.work++;
      tree.detach(child);
      // Checked again: an earlier sibling's move may have put the takeover below this child.
      const parent = takeover !== NO_SLOT && this.canAdopt(tree, takeover, child, slot) ? takeover : this.pick(tree, child, true, slot);
      this.attachOrWait(tree, child, parent);
    }
  }

  /** Whether `candidate` may become `child`'s parent: present in the tree, not leaving, not below the child. */
  private canAdopt(tree: ChunkTree, candidate: number, child: number, leaving: number): boolean {
    this.work++;
    if (candidate === NO_SLOT || candidate === leaving || candidate === child) return false;
    const state = tree.state[candidate];
    if (state === HELD) return true;
    return state === WANTING && !tree.isBelow(candidate, child);
  }

  /** When a holder appears, receivers that had no source get one; a chunk that had none at all gets its plan. */
  private feedSourceless(tree: ChunkTree): void {
    if (tree.sourceless.size === 0 || tree.holderSlots.length === 0) return;
    if (tree.sourceless.size === tree.wantingSlots.length && tree.sourceless.size > this.fanout) {
      tree.sourceless.clear();
      this.plan(tree);
      return;
    }
    for (const slot of [...tree.sourceless]) {
      this.work++;
      const parent = this.pick(tree, slot, true, NO_SLOT);
      if (parent !== NO_SLOT) this.attachOrWait(tree, slot, parent);
    }
  }

  /**
   * A parent for `slot` from a few random holders (and receivers, unless
   * `holdersOnly`), never `slot`, `excluded` or a receiver below `slot`.
   * Preference: not an origin (its uplink feeds every tree's root), then the
   * least loaded (fewest children over all chunks: every member's uplink is
   * spoken for by its stripe, so an extra child slows someone; spread it where
   * there is slack), then nearest, then a holder over a receiver.
   */
  private pick(tree: ChunkTree, slot: number, holdersOnly: boolean, excluded: number): number {
    let best = NO_SLOT;
    let bestScore = Infinity;
    const consider = (candidate: number) => {
      this.work++;
      if (candidate === slot || candidate === excluded) return;
      const receiving = tree.state[candidate] === WANTING;
      if (receiving && tree.childCount[slot]! > 0 && tree.isBelow(candidate, slot)) return;
      const tier = tree.origins.has(candidate) ? 1 : 0;
      const score = ((tier * 1e6 + this.load[candidate]!) * 3 + this.roster.nearness(slot, candidate)) * 2 + (receiving ? 1 : 0);
      if (score < bestScore) {
        bestScore = score;
        best = candidate;
      }
    };
    this.sample(tree.holderSlots, consider);
    if (!holdersOnly) this.sample(tree.wantingSlots, consider);
    return best;
  }

  /** Visits every entry of a short list, or PICK_SAMPLES random ones of a long one. */
  private sample(list: readonly number[], visit: (slot: number) => void): void {
    if (list.length <= PICK_SAMPLES) {
      for (const slot of list) visit(slot);
      return;
    }
    for (let i = 0; i < PICK_SAMPLES; i++) visit(list[Math.floor(this.random() * list.length)]!);
  }

  /**
   * Parent first; while the parent is receiving, then the node that would
   * replace it for this child (`takeovers`: where the agent resumes at
   * once if the parent dies, so a death overloads nobody while the master
   * waits out its liveness timeout) and the grandparent; then whole holders,
   * nearest first, origins last.
   */
  private sourcesOf(tree: ChunkTree, slot: number, parent: number): ServerId[] {
    const ids = this.roster.ids;
    const chosen = this.chosen;
    chosen.length = 0;
    chosen.push(parent);
    if (tree.state[parent] === WANTING) {
      if (this.takeoverOf[parent] !== this.takeoverStamp) this.takeovers(tree, parent);
      const replacement = this.takeover[slot]!;
      if (replacement !== NO_SLOT) chosen.push(replacement);
      const grandparent = tree.parent[parent]!;
      if (grandparent !== NO_SLOT && grandparent !== replacement) chosen.push(grandparent);
    }
    const fixed = chosen.length;
    const list = tree.holderSlots;
    const draws = this.fallbacks === 0 ? 0 : list.length <= PICK_SAMPLES * this.fallbacks ? list.length : PICK_SAMPLES * this.fallbacks;
    // The best `fallbacks` holders drawn, kept ranked after the fixed sources (scores alongside).
    const scores = this.scores;
    for (let d = 0; d < draws; d++) {
      this.work++;
      const holder = draws === list.length ? list[d]! : list[Math.floor(this.random() * list.length)]!;
      if (holder === slot || chosen.includes(holder)) continue;
      const score = this.roster.nearness(slot, holder) + (tree.origins.has(holder) ? 3 : 0);
      let at = chosen.length - fixed;
      while (at > 0 && scores[at - 1]! > score) {
        if (at < this.fallbacks) {
          chosen[fixed + at] = chosen[fixed + at - 1]!;
          scores[at] = scores[at - 1]!;
        }
        at--;
      }
      if (at >= this.fallbacks) continue;
      chosen[fixed + at] = holder;
      scores[at] = score;
    }
    const out = new Array<ServerId>(chosen.length);
    for (let i = 0; i < chosen.length; i++) out[i] = ids[chosen[i]!]!;
    return out;
  }

  private want(tree: ChunkTree, slot: number): void {
    tree.setWanting(slot, this.roster.ids[slot]);
    this.wantedCount[slot]!++;
    this.outstanding++;
  }

  /** `slot` holds the chunk whole: off its parent, children kept (they now stream from a whole copy). */
  private markHeld(tree: ChunkTree, slot: number, origin: boolean): void {
    tree.reserve(this.roster.capacity);
    const state = tree.state[slot];
    const member = this.roster.member[slot]!;
    if (state !== HELD) {
      if (state === WANTING) {
        this.wantedCount[slot]!--;
        this.outstanding--;
      }
      tree.setHeld(slot, member ? this.roster.ids[slot] : undefined);
      if (member) this.heldCount[slot]!++;
    }
    if (origin) tree.origins.add(slot);
  }

  /** Takes a chunk's held and wanted counts off its members' totals (before it is cleared or dropped). */
  private forgetCounts(tree: ChunkTree): void {
    for (const slot of tree.holderSlots) {
      this.work++;
      if (this.roster.member[slot]) this.heldCount[slot]!--;
    }
    for (const slot of tree.wantingSlots) {
      this.work++;
      this.wantedCount[slot]!--;
      this.outstanding--;
    }
  }

  private markDirty(tree: ChunkTree, slot: number): void {
    tree.markDirty(slot);
    this.dirtyChunks.add(tree);
  }
}
