import { MinHeap } from '../../common/min-heap.js';
/** Events ordered by time, then by insertion: ties resolve the same way on every run. */
interface Scheduled {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap = new MinHeap<Scheduled>((a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq));
  private seq = 0;
  now = 0;

  at(time: number, run: () => void): void {
    this.heap.push({ time: Math.max(time, this.now), seq: this.seq++, run });
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run);
  }

  size(): number {
    return this.heap.size;
  }

  /** Runs the next event; false when none is left. */
  step(): boolean {
    const top = this.heap.pop();
    if (top === undefined) return false;
    this.now = top.time;
    top.run();
    return true;
  }
}
