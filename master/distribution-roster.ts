import { assert } from '../common/assert.js';
import type { ServerId } from '../common/ids.js';

export interface DistributionMember {
  id: ServerId;
  zone: string;
  rack: string;
}

/** How near two servers are: same rack, same zone, or neither. Lower is nearer. */
export type Nearness = 0 | 1 | 2;

/**
 * The servers the distribution planner knows, each under a small integer
 * slot so that per-chunk state can live in typed arrays: members (they
 * receive every chunk) and holders that are not members (durable replicas on
 * servers outside the tier). Members are also indexed by zone and rack, so a
 * plan can walk them in locality order without sorting, and each member has
 * a stripe: the chunks whose order is congruent to it (mod fanout) are the
 * ones whose trees it is interior in. Stripes are dealt per rack, so that
 * every rack has interior nodes of every stripe and leaves find parents at
 * home.
 */
export class DistributionRoster {
  private readonly slots = new Map<ServerId, number>();
  private readonly free: number[] = [];
  readonly ids: (ServerId | undefined)[] = [];
  readonly rackOf: number[] = [];
  readonly zoneOf: number[] = [];
  readonly stripeOf: number[] = [];
  readonly member: boolean[] = [];
  /** Position in its rack's list, for O(1) removal. */
  private readonly rackPos: number[] = [];
  private readonly rackIds = new Map<string, number>();
  private readonly zoneIds = new Map<string, number>();
  /** Per rack: member slots; its zone; members per stripe. */
  private readonly rackMembers: number[][] = [];
  private readonly rackZone: number[] = [];
  private readonly rackStripes: number[][] = [];
  /** Per zone: its racks. */
  private readonly zoneRacks: number[][] = [];
  private readonly stripeTotals: number[];
  private memberCount = 0;

  constructor(readonly stripes: number) {
    assert(Number.isInteger(stripes) && stripes >= 1, `stripes must be a positive integer, got ${stripes}`);
    this.stripeTotals = new Array<number>(stripes).fill(0);
  }

  /** Slots ever handed out (live or free): the size per-slot arrays need. */
  get capacity(): number {
    return this.ids.length;
  }

  get members(): number {
    return this.memberCount;
  }

  slotOf(id: ServerId): number | undefined {
    return this.slots.get(id);
  }

  /** The slot of a server, made (as a non-member) if new. */
  ensure(id: ServerId): number {
    const known = this.slots.get(id);
    if (known !== undefined) return known;
    const slot = this.free.pop() ?? this.ids.length;
    this.slots.set(id, slot);
    this.ids[slot] = id;
    this.member[slot] = false;
    this.rackOf[slot] = -1;
    this.zoneOf[slot] = -1;
    this.stripeOf[slot] = -1;
    this.rackPos[slot] = -1;
    return slot;
  }

  /** Makes `slot` a member in its zone and rack, dealing it the stripe its rack has least of. */
  join(slot: number, info: DistributionMember): void {
    assert(!this.member[slot], `slot ${slot} is already a member`);
    const zone = this.intern(this.zoneIds, info.zone, () => this.zoneRacks.push([]));
    const rackKey = `${info.zone}\u0000${info.rack}`;
    const rack = this.intern(this.rackIds, rackKey, () => {
      this.rackMembers.push([]);
      this.rackZone.push(zone);
      this.rackStripes.push(new Array<number>(this.stripes).fill(0));
      this.zoneRacks[zone]!.push(this.rackMembers.length - 1);
    });
    const counts = this.rackStripes[rack]!;
    let stripe = 0;
    for (let s = 1; s < this.stripes; s++) {
      if (counts[s]! < counts[stripe]! || (counts[s] === counts[stripe] && this.stripeTotals[s]! < this.stripeTotals[stripe]!)) stripe = s;
    }
    counts[stripe]!++;
    this.stripeTotals[stripe]!++;
    this.member[slot] = true;
    this.rackOf[slot] = rack;
    this.zoneOf[slot] = zone;
    this.stripeOf[slot] = stripe;
    const list = this.rackMembers[rack]!;
    this.rackPos[slot] = list.length;
    list.push(slot);
    this.memberCount++;
  }

  /** Forgets the server entirely; its slot may be reused. */
  release(slot: number): void {
    const id = this.ids[slot];
    assert(id !== undefined, `slot ${slot} is not in use`);
    if (this.member[slot]) {
      const rack = this.rackOf[slot]!;
      const list = this.rackMembers[rack]!;
      const at = this.rackPos[slot]!;
      const last = list.pop()!;
      if (last !== slot) {
        list[at] = last;
        this.rackPos[last] = at;
      }
      this.rackStripes[rack]![this.stripeOf[slot]!]!--;
      this.stripeTotals[this.stripeOf[slot]!]!--;
      this.memberCount--;
    }
    this.slots.delete(id);
    this.ids[slot] = undefined;
    this.member[slot] = false;
    this.free.push(slot);
  }

  nearness(a: number, b: number): Nearness {
    const rack = this.rackOf[a]!;
    if (rack >= 0 && rack === this.rackOf[b]) return 0;
    const zone = this.zoneOf[a]!;
    return zone >= 0 && zone === this.zoneOf[b] ? 1 : 2;
  }

  /**
   * Every member once, racks contiguous and zones contiguous, in the same
   * order every time (for the same members): plans of the chunks of one
   * stripe then give every member the same place in each of their trees, so
   * a member that is late in one chunk's tree is equally late in the next,
   * and nobody waits on a parent that is still busy with an earlier chunk.
   */
  forEachInLocalityOrder(visit: (slot: number) => void): void {
    for (const racks of this.zoneRacks) for (const rack of racks) for (const slot of this.rackMembers[rack]!) visit(slot);
  }

  private intern(table: Map<string, number>, key: string, onNew: () => void): number {
    let id = table.get(key);
    if (id === undefined) {
      id = table.size;
      table.set(key, id);
      onNew();
    }
    return id;
  }
}
