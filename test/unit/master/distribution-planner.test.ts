import { expect } from 'chai';
import { chunkHandle, chunkVersion, serverId, type ChunkHandle, type ChunkVersion, type ServerId } from '../../../common/ids.js';
import { DistributionPlanner, type DistributionMember, type PlannedTask } from '../../../master/distribution-planner.js';
import { Prng } from '../../sim/prng.js';

const ORIGIN = serverId('origin-0');
const RACK_SIZE = 20;
const RACKS_PER_ZONE = 5;

function member(i: number): DistributionMember {
  const rack = Math.floor(i / RACK_SIZE);
  return { id: serverId(`n${i}`), zone: `z${Math.floor(rack / RACKS_PER_ZONE)}`, rack: `r${rack}` };
}

/**
 * A planner and what the nodes were told: the latest task each node has per
 * chunk, as an agent would keep them (a task replaces the one for the same
 * handle; a cancel drops it).
 */
class Fleet {
  readonly planner: DistributionPlanner;
  readonly told = new Map<ServerId, Map<ChunkHandle, PlannedTask>>();
  readonly alive = new Set<ServerId>();
  /** Holders that are not members (the origins). */
  readonly origins = new Set<ServerId>();
  lastTasks = new Map<ServerId, PlannedTask[]>();
  lastCancels = new Map<ServerId, ChunkHandle[]>();
  private nextId: number;

  constructor(
    readonly nodes: number,
    readonly chunks: number,
    options: { fanout?: number; origins?: number; seed?: number } = {},
  ) {
    const prng = new Prng(options.seed ?? 7);
    this.planner = new DistributionPlanner({ fanout: options.fanout ?? 2, fallbacks: 2, random: () => prng.next() });
    for (let i = 0; i < (options.origins ?? 1); i++) this.origins.add(serverId(`origin-${i}`));
    for (let i = 0; i < nodes; i++) this.add(i);
    this.nextId = nodes;
    for (let c = 0; c < chunks; c++) this.planner.setChunk(chunkHandle(c + 1), chunkVersion(1), c, this.origins);
  }

  add(i = this.nextId++): ServerId {
    const m = member(i);
    this.planner.addMember(m);
    this.alive.add(m.id);
    return m.id;
  }

  remove(id: ServerId): void {
    this.planner.removeMember(id);
    this.alive.delete(id);
    this.told.delete(id);
  }

  take(): void {
    const { tasks, cancels } = this.planner.takeChanges();
    this.lastTasks = tasks;
    this.lastCancels = cancels;
    for (const [node, list] of tasks) {
      let mine = this.told.get(node);
      if (mine === undefined) {
        mine = new Map();
        this.told.set(node, mine);
      }
      for (const t of list) mine.set(t.handle, t);
    }
    for (const [node, handles] of cancels) for (const h of handles) this.told.get(node)?.delete(h);
  }

  tasksSent(): number {
    let n = 0;
    for (const list of this.lastTasks.values()) n += list.length;
    return n;
  }

  parentOf(node: ServerId, handle: ChunkHandle): ServerId | undefined {
    return this.told.get(node)?.get(handle)?.sources[0];
  }

  /** Hops from `node` up to a holder along told parents; throws on a cycle. */
  depth(node: ServerId, handle: ChunkHandle): number {
    const holders = this.planner.holders(handle);
    const seen = new Set<ServerId>();
    let hops = 0;
    for (let at: ServerId | undefined = node; at !== undefined && !holders.has(at) && !this.origins.has(at); at = this.parentOf(at, handle)) {
      if (seen.has(at)) throw new Error(`cycle through ${at} for chunk ${handle}`);
      seen.add(at);
      hops++;
    }
    return hops;
  }

  /**
   * Lets the chunks flow: a node whose told parent holds the chunk gets it
   * (held), until nothing moves. Counts how many times each node got each
   * chunk.
   */
  flow(): Map<string, number> {
    const received = new Map<string, number>();
    for (let moved = true; moved; ) {
      moved = false;
      for (let c = 1; c <= this.chunks; c++) {
        const handle = chunkHandle(c);
        const holders = this.planner.holders(handle);
        for (const node of this.alive) {
          if (holders.has(node)) continue;
          const task = this.told.get(node)?.get(handle);
          const parent = task?.sources[0];
          if (parent === undefined || !(holders.has(parent) || this.origins.has(parent))) continue;
          this.planner.held(node, handle, task!.version);
          const key = `${node}/${c}`;
          received.set(key, (received.get(key) ?? 0) + 1);
          moved = true;
        }
      }
    }
    return received;
  }

  /** Per node: in how many chunks' trees it is some member's told parent; and the most children of one chunk. */
  interiorLoad(): { trees: Map<ServerId, number>; maxChildren: number; originChildren: Map<ChunkHandle, number> } {
    const children = new Map<string, number>();
    const originChildren = new Map<ChunkHandle, number>();
    for (const [node, tasks] of this.told) {
      if (!this.alive.has(node)) continue;
      for (const t of tasks.values()) {
        const parent = t.sources[0]!;
        if (this.origins.has(parent)) originChildren.set(t.handle, (originChildren.get(t.handle) ?? 0) + 1);
        const key = `${parent}/${t.handle}`;
        children.set(key, (children.get(key) ?? 0) + 1);
      }
    }
    const trees = new Map<ServerId, number>();
    let maxChildren = 0;
    for (const [key, n] of children) {
      const parent = key.slice(0, key.lastIndexOf('/')) as ServerId;
      if (!this.origins.has(parent)) {
        trees.set(parent, (trees.get(parent) ?? 0) + 1);
        maxChildren = Math.max(maxChildren, n);
      }
    }
    return { trees, maxChildren, originChildren };
  }
}

const h = (n: number): ChunkHandle => chunkHandle(n);
const v = (n: number): ChunkVersion => chunkVersion(n);

describe('distribution planner', () => {
  it('gives every member one task per chunk, along acyclic trees of depth O(log N) hanging off the origin once per chunk', () => {
    const fleet = new Fleet(1000, 16);
    fleet.take();
    expect(fleet.tasksSent()).to.equal(1000 * 16);
    for (const node of fleet.alive) expect(fleet.told.get(node)!.size).to.equal(16);
    let deepest = 0;
    for (const node of fleet.alive) for (let c = 1; c <= 16; c++) deepest = Math.max(deepest, fleet.depth(node, h(c)));
    expect(deepest).to.be.at.most(Math.ceil(Math.log2(1000)) + 1);
    const { originChildren } = fleet.interiorLoad();
    for (let c = 1; c <= 16; c++) expect(originChildren.get(h(c))).to.equal(1);

    const received = fleet.flow();
    for (const node of fleet.alive) {
      expect(fleet.planner.progressOf(node)).to.deep.equal({ held: 16, wanted: 0 });
      for (let c = 1; c <= 16; c++) expect(received.get(`${node}/${c}`), `${node} chunk ${c}`).to.equal(1);
    }
    expect(fleet.planner.stats()).to.deep.equal({ members: 1000, chunks: 16, tasksOutstanding: 0 });
  });

  it('balances interior load: at most fanout children per chunk, and each node interior in about chunks/fanout trees', () => {
    for (const fanout of [2, 3, 4]) {
      const chunks = 24;
      const fleet = new Fleet(600, chunks, { fanout });
      fleet.take();
      const { trees, maxChildren } = fleet.interiorLoad();
      expect(maxChildren, `fanout ${fanout}`).to.be.at.most(fanout);
      const perNode = [...fleet.alive].map((n) => trees.get(n) ?? 0);
      expect(Math.max(...perNode), `fanout ${fanout}`).to.be.at.most(chunks / fanout);
      const mean = perNode.reduce((a, b) => a + b, 0) / perNode.length;
      expect(mean, `fanout ${fanout}`).to.be.within((0.6 * chunks) / fanout, chunks / fanout);
    }
  });

  it('prefers parents in the same rack', () => {
    const fleet = new Fleet(1000, 8);
    fleet.take();
    let sameRack = 0;
    let sameZone = 0;
    let edges = 0;
    for (const [node, tasks] of fleet.told) {
      for (const t of tasks.values()) {
        if (fleet.origins.has(t.sources[0]!)) continue;
        const [a, b] = [member(Number(node.slice(1))), member(Number(t.sources[0]!.slice(1)))];
        edges++;
        if (a.rack === b.rack) sameRack++;
        if (a.zone === b.zone) sameZone++;
      }
    }
    // Leaves (half the edges at fanout 2) find a parent in their rack; interior edges cross a rack where a subtree straddles two.
    expect(sameRack / edges).to.be.above(0.75);
    expect(sameZone / edges).to.be.above(0.95);
  });

  it('spreads tree roots over several origins', () => {
    const fleet = new Fleet(300, 30, { origins: 3 });
    fleet.take();
    const roots = new Map<ServerId, number>();
    for (const tasks of fleet.told.values()) for (const t of tasks.values()) if (fleet.origins.has(t.sources[0]!)) roots.set(t.sources[0]!, (roots.get(t.sources[0]!) ?? 0) + 1);
    expect([...roots.values()]).to.deep.equal([10, 10, 10]);
  });

  it('lists after the parent the node that would take over from it, the grandparent, then whole holders', () => {
    const fleet = new Fleet(200, 2);
    fleet.take();
    for (const [node, tasks] of fleet.told) {
      for (const t of tasks.values()) {
        const parent = t.sources[0]!;
        if (fleet.origins.has(parent)) {
          expect(t.sources).to.deep.equal([parent]);
          continue;
        }
        const grandparent = fleet.parentOf(parent, t.handle)!;
        // The parent's first child fails over to the grandparent, the second to the parent's parent in the other stripe.
        const other = fleet.parentOf(parent, h(3 - t.handle));
        expect([grandparent, other], node).to.include(t.sources[1]);
        expect(t.sources.slice(1, 3), node).to.include(grandparent);
        expect(t.sources[t.sources.length - 1]).to.equal(ORIGIN);
      }
    }
  });

  it('spreads a parent\'s children over distinct takeovers, so a death overloads no uplink', () => {
    const fleet = new Fleet(400, 2);
    fleet.take();
    const takeovers = new Map<string, ServerId[]>();
    for (const tasks of fleet.told.values()) {
      for (const t of tasks.values()) {
        if (fleet.origins.has(t.sources[0]!)) continue;
        const key = `${t.sources[0]}/${t.handle}`;
        takeovers.set(key, [...(takeovers.get(key) ?? []), t.sources[1]!]);
      }
    }
    let distinct = 0;
    for (const list of takeovers.values()) if (new Set(list).size === list.length) distinct++;
    expect(distinct / takeovers.size).to.be.above(0.95);
  });

  it('hands a removed node\'s children to the nodes they fail over to, re-issuing only theirs, and never names a dead node as parent', () => {
    const fleet = new Fleet(500, 12);
    fleet.take();
    const prng = new Prng(3);
    const members = [...fleet.alive];
    let asExpected = 0;
    let moved = 0;
    for (let round = 0; round < 20; round++) {
      const victim = prng.pick(members.filter((m) => fleet.alive.has(m)));
      const orphans = new Map<ServerId, Set<ChunkHandle>>();
      const failover = new Map<string, ServerId>();
      for (const [node, tasks] of fleet.told) {
        for (const t of tasks.values()) {
          if (t.sources[0] !== victim || node === victim) continue;
          if (!orphans.has(node)) orphans.set(node, new Set());
          orphans.get(node)!.add(t.handle);
          failover.set(`${node}/${t.handle}`, t.sources[1]!);
        }
      }
      fleet.remove(victim);
      fleet.take();
      const reissued = new Map<ServerId, Set<ChunkHandle>>();
      for (const [node, list] of fleet.lastTasks) reissued.set(node, new Set(list.map((t) => t.handle)));
      expect(reissued, `after removing ${victim}`).to.deep.equal(orphans);
      for (const [key, source] of failover) {
        const [node, handle] = key.split('/');
        const parent = fleet.parentOf(node as ServerId, h(Number(handle)));
        if (parent === source) asExpected++;
        else if (fleet.alive.has(source)) moved++;
      }
      for (const [, tasks] of fleet.told) for (const t of tasks.values()) expect(fleet.alive.has(t.sources[0]!) || fleet.origins.has(t.sources[0]!)).to.equal(true);
    }
    // Orphans land where their agents already fail over (a told source may since have died, or sit below them).
    expect(asExpected / (asExpected + moved)).to.be.above(0.9);
    let deepest = 0;
    for (const node of fleet.alive) for (let c = 1; c <= 12; c++) deepest = Math.max(deepest, fleet.depth(node, h(c)));
    // A takeover from another stripe is a leaf of this tree: the orphan's subtree moves one tree height down, at worst.
    expect(deepest).to.be.at.most(2 * Math.ceil(Math.log2(500)) + 2);
    const received = fleet.flow();
    for (const node of fleet.alive) for (let c = 1; c <= 12; c++) expect(received.get(`${node}/${c}`)).to.equal(1);
  });

  it('gives a member that joins every chunk, from live sources other than the origin, and nothing to anyone else', () => {
    const fleet = new Fleet(300, 10);
    fleet.take();
    fleet.flow();
    fleet.take();
    const early = fleet.add();
    fleet.planner.addMember(member(300));
    fleet.take();
    expect([...fleet.lastTasks.keys()]).to.deep.equal([early]);
    expect(fleet.lastTasks.get(early)!.map((t) => t.handle).sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const t of fleet.lastTasks.get(early)!) expect(fleet.planner.holders(t.handle).has(t.sources[0]!)).to.equal(true);

    // Mid-distribution: nobody holds the chunks yet; the joiner hangs off receivers with room, not the origin.
    const busy = new Fleet(300, 10);
    busy.take();
    const late = busy.add();
    busy.take();
    const tasks = busy.lastTasks.get(late)!;
    expect(tasks).to.have.length(10);
    for (const t of tasks) {
      expect(busy.alive.has(t.sources[0]!)).to.equal(true);
      expect(busy.origins.has(t.sources[0]!)).to.equal(false);
    }
    // The joiner goes to the least loaded of a few sampled nodes: at most one child more than fanout anywhere.
    const { maxChildren } = busy.interiorLoad();
    expect(maxChildren).to.be.at.most(3);
    const received = busy.flow();
    for (let c = 1; c <= 10; c++) expect(received.get(`${late}/${c}`)).to.equal(1);
  });

  it('re-plans on a new version; the same version again only adds holders', () => {
    const fleet = new Fleet(200, 4);
    fleet.take();
    fleet.flow();
    fleet.take();
    expect(fleet.planner.holders(h(2)).size).to.equal(200);
    fleet.planner.setChunk(h(2), v(2), 1, [ORIGIN]);
    fleet.take();
    expect(fleet.tasksSent()).to.equal(200);
    for (const list of fleet.lastTasks.values()) expect(list.map((t) => [t.handle, t.version])).to.deep.equal([[2, 2]]);
    expect(fleet.planner.holders(h(2)).size).to.equal(0);
    expect(fleet.planner.progressOf(serverId('n5'))).to.deep.equal({ held: 3, wanted: 1 });

    fleet.planner.setChunk(h(2), v(2), 1, [serverId('n5')]);
    fleet.planner.held(serverId('n6'), h(2), v(1));
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);
    expect([...fleet.planner.holders(h(2))]).to.deep.equal([serverId('n5')]);
    fleet.planner.setChunk(h(2), v(1), 1, [serverId('n7')]);
    expect([...fleet.planner.holders(h(2))]).to.deep.equal([serverId('n5')]);
    const received = fleet.flow();
    for (const node of fleet.alive) if (node !== 'n5') expect(received.get(`${node}/2`)).to.equal(1);
  });

  it('returns only what changed: nothing for completions, one task for a failure, cancels for a removed chunk', () => {
    const fleet = new Fleet(100, 3);
    fleet.take();
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);
    const node = serverId('n10');
    fleet.planner.held(node, h(1), v(1));
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);

    fleet.planner.failed(serverId('n11'), h(2), v(1));
    fleet.take();
    expect([...fleet.lastTasks.keys()]).to.deep.equal([serverId('n11')]);
    const retry = fleet.lastTasks.get(serverId('n11'))![0]!;
    expect(fleet.origins.has(retry.sources[0]!) || fleet.planner.holders(h(2)).has(retry.sources[0]!)).to.equal(true);
    fleet.planner.failed(serverId('n11'), h(2), v(9));
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);

    fleet.planner.removeChunk(h(1));
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);
    expect(fleet.lastCancels.size).to.equal(99);
    expect(fleet.lastCancels.has(node)).to.equal(false);
    for (const handles of fleet.lastCancels.values()) expect(handles).to.deep.equal([h(1)]);
    expect(fleet.planner.stats()).to.deep.equal({ members: 100, chunks: 2, tasksOutstanding: 200 });
    expect(fleet.planner.progressOf(node)).to.deep.equal({ held: 0, wanted: 2 });
  });

  it('re-fetches a lost replica from a source outside its own subtree', () => {
    const fleet = new Fleet(300, 2);
    fleet.take();
    // n-something interior of chunk 1 completes, then loses it while its subtree is still receiving.
    const interior = [...fleet.interiorLoad().trees.keys()][0]!;
    const handle = [...fleet.told.values()].flatMap((m) => [...m.values()]).find((t) => t.sources[0] === interior)!.handle;
    fleet.planner.held(interior, handle, v(1));
    fleet.take();
    fleet.planner.lost(interior, handle);
    fleet.take();
    const task = fleet.lastTasks.get(interior)![0]!;
    expect(task.handle).to.equal(handle);
    expect(fleet.depth(interior, handle)).to.be.at.least(1);
    expect(fleet.planner.progressOf(interior)!.wanted).to.equal(fleet.told.get(interior)!.size);
    const received = fleet.flow();
    expect(received.get(`${interior}/${handle}`)).to.equal(1);
  });

  it('waits without sources while a chunk has no holder, and serves the waiting when one appears', () => {
    const fleet = new Fleet(50, 0);
    fleet.planner.setChunk(h(1), v(1), 0, []);
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);
    fleet.planner.setChunk(h(1), v(1), 0, [ORIGIN]);
    fleet.take();
    expect(fleet.tasksSent()).to.equal(50);
    const roots = [...fleet.told].filter(([, tasks]) => tasks.get(h(1))!.sources[0] === ORIGIN).map(([node]) => node);
    expect(roots).to.have.length(1);

    // The only holder dies: the root waits, and the next holder takes it.
    fleet.planner.removeMember(ORIGIN);
    fleet.take();
    expect(fleet.tasksSent()).to.equal(0);
    const next = roots[0] === serverId('n3') ? serverId('n4') : serverId('n3');
    fleet.planner.held(next, h(1), v(1));
    fleet.take();
    expect([...fleet.lastTasks.keys()]).to.deep.equal(roots);
    expect(fleet.lastTasks.get(roots[0]!)![0]!.sources[0]).to.equal(next);
  });

  it('is deterministic given its random source', () => {
    const a = new Fleet(200, 5, { seed: 11 });
    const b = new Fleet(200, 5, { seed: 11 });
    a.take();
    b.take();
    expect([...b.told.entries()].map(([n, m]) => [n, [...m.values()]])).to.deep.equal([...a.told.entries()].map(([n, m]) => [n, [...m.values()]]));
  });

  it('does per-event work that does not grow with the number of members (counted, not timed)', () => {
    const cost = (nodes: number) => {
      const fleet = new Fleet(nodes, 20);
      const planner = fleet.planner;
      const setupWork = planner.workDone();
      fleet.take();
      const measure = (events: number, run: (i: number) => void) => {
        const before = planner.workDone();
        for (let i = 0; i < events; i++) run(i);
        return (planner.workDone() - before) / events;
      };
      const prng = new Prng(5);
      const some = (n: number) => Array.from({ length: n }, () => serverId(`n${prng.int(0, nodes - 1)}`));
      const completions = some(200);
      const held = measure(200, (i) => planner.held(completions[i]!, h((i % 20) + 1), v(1)));
      const failures = some(100);
      const failed = measure(100, (i) => planner.failed(failures[i]!, h((i % 20) + 1), v(1)));
      const victims = [...new Set(some(30))];
      const removed = measure(victims.length, (i) => planner.removeMember(victims[i]!));
      const joined = measure(30, (i) => planner.addMember(member(nodes + i)));
      const taken = measure(1, () => planner.takeChanges());
      return { perMemberSetup: setupWork / nodes, held, failed, removed, joined, taken };
    };
    const small = cost(300);
    const large = cost(6000);
    for (const key of ['perMemberSetup', 'held', 'failed', 'removed', 'joined', 'taken'] as const) {
      expect(large[key], `${key}: ${small[key]} at 300 members, ${large[key]} at 6000`).to.be.at.most(small[key] * 1.5 + 5);
    }
  });
});
