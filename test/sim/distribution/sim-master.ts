import { performance } from 'node:perf_hooks';
import type { DistributionPlanner } from '../../../master/distribution-planner.js';

/** What the planner cost in one master round (the time between two takeChanges). */
export interface RoundCost {
  us: number;
  events: number;
  /** The part spent recording completions (held), which grows with the fleet: N nodes each finish a chunk every chunk/B. */
  completionUs: number;
}

/**
 * Times every call into the real planner, as the leader would make them:
 * one per heartbeat item (completion, failure), registration and death
 * ("events"), plus one takeChanges per round. Wall time of a single-threaded
 * call is its CPU time here; the work counter (planner.workDone) gives the
 * same picture without the clock's noise.
 */
export class PlannerMeter {
  readonly rounds: RoundCost[] = [];
  private current: RoundCost = { us: 0, events: 0, completionUs: 0 };
  eventUsTotal = 0;
  eventUsMax = 0;
  events = 0;
  eventWorkTotal = 0;
  eventWorkMax = 0;

  constructor(private readonly planner: DistributionPlanner) {}

  /** One event-driven planner call; `completion` for a held() from a heartbeat. */
  event(call: () => void, completion = false): void {
    const work = this.planner.workDone();
    const began = performance.now();
    call();
    const us = (performance.now() - began) * 1000;
    const units = this.planner.workDone() - work;
    this.current.us += us;
    if (completion) this.current.completionUs += us;
    this.current.events++;
    this.events++;
    this.eventUsTotal += us;
    this.eventUsMax = Math.max(this.eventUsMax, us);
    this.eventWorkTotal += units;
    this.eventWorkMax = Math.max(this.eventWorkMax, units);
  }

  /** The round's takeChanges; closes the round. */
  round<T>(call: () => T): T {
    const began = performance.now();
    const out = call();
    this.current.us += (performance.now() - began) * 1000;
    this.rounds.push(this.current);
    this.current = { us: 0, events: 0, completionUs: 0 };
    return out;
  }
}
