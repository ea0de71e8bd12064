import type { EventQueue } from '../event-queue.js';
import type { ChunkBytes, FluidNetwork } from './fluid-network.js';

/** A task's state on its node. */
const NONE = 0;
const PENDING = 1;
const ACTIVE = 2;
const FAILED = 3;
const DONE = 4;

export interface SimTask {
  chunk: number;
  /** Node indices: parent first, then the fallbacks. */
  sources: number[];
}

export interface AgentsOptions {
  nodes: number;
  chunks: number;
  chunkSizeBytes: number;
  fileBytes: number;
  /** Fetches a node runs at once (D). */
  downloadsMax: number;
  /** Longest source list a task may carry. */
  sourcesMax: number;
  latencyS: number;
  /** How long a source with a task it has not started may keep a follower waiting (data-service.ts: 10 s). */
  followStartWaitS: number;
  /** A stream that brings nothing for this long is given up (chunk-fetch.ts: 30 s). */
  stallS: number;
  /**
   * How long a source that has no task for the chunk (yet: its Distribute
   * call may still be on its way) keeps a follower waiting for one. The data
   * service today answers NOT_FOUND at once: 0.
   */
  awaitTaskS: number;
}

/**
 * Every node's distribution agent, as chunkserver/distribution-agent.ts
 * behaves: it keeps the tasks the master sent (a task replaces the one for the
 * same chunk), fetches them in ascending order, D at a time, each from its
 * sources in the listed order (the parent first, possibly still receiving:
 * cut-through); when a source fails (dead, or neither holding nor receiving
 * the chunk) it resumes at the same offset from the next one, and when every
 * source failed it reports the task failed in its next heartbeat and waits
 * for new sources. Whole chunks are reported in the next heartbeat. The
 * timeouts of the real fetch path are kept: a follower waits at most
 * `followStartWaitS` for a source to begin receiving, and gives up a stream
 * that brings nothing for `stallS`.
 *
 * One instance holds all nodes, struct-of-arrays: node n's chunk c is entry
 * n * chunks + c.
 */
export class Agents implements ChunkBytes {
  readonly alive: Uint8Array;
  readonly doneCount: Int32Array;
  readonly doneAt: Float64Array;
  private readonly haveBytes: Float64Array;
  private readonly wholeFlag: Uint8Array;
  private readonly task: Uint8Array;
  private readonly sources: Int32Array;
  private readonly sourceCount: Uint8Array;
  private readonly cursor: Uint8Array;
  private readonly flow: Int32Array;
  /** Bumped whenever a task's fetch is restarted, so a stale retry event does nothing. */
  private readonly attempt: Uint32Array;
  private readonly activeCount: Int32Array;
  /** Lowest chunk that may be pending, per node. */
  private readonly nextPending: Int32Array;
  private readonly completedSinceReport: number[][];
  private readonly failedSinceReport: number[][];
  private network!: FluidNetwork;
  /** Called when a node has every chunk. */
  onNodeDone: (node: number) => void = () => undefined;

  constructor(
    private readonly options: AgentsOptions,
    private readonly queue: EventQueue,
  ) {
    const { nodes, chunks, sourcesMax } = options;
    this.alive = new Uint8Array(nodes);
    this.doneCount = new Int32Array(nodes);
    this.doneAt = new Float64Array(nodes).fill(NaN);
    this.haveBytes = new Float64Array(nodes * chunks);
    this.wholeFlag = new Uint8Array(nodes * chunks);
    this.task = new Uint8Array(nodes * chunks);
    this.sources = new Int32Array(nodes * chunks * sourcesMax);
    this.sourceCount = new Uint8Array(nodes * chunks);
    this.cursor = new Uint8Array(nodes * chunks);
    this.flow = new Int32Array(nodes * chunks).fill(-1);
    this.attempt = new Uint32Array(nodes * chunks);
    this.activeCount = new Int32Array(nodes);
    this.nextPending = new Int32Array(nodes);
    this.completedSinceReport = Array.from({ length: nodes }, () => []);
    this.failedSinceReport = Array.from({ length: nodes }, () => []);
  }

  attach(network: FluidNetwork): void {
    this.network = network;
  }

  /** A node that starts with the whole file (an origin). */
  seed(node: number): void {
    const { chunks } = this.options;
    this.alive[node] = 1;
    for (let c = 0; c < chunks; c++) {
      this.haveBytes[node * chunks + c] = this.size(c);
      this.wholeFlag[node * chunks + c] = 1;
    }
    this.doneCount[node] = chunks;
  }

  start(node: number): void {
    this.alive[node] = 1;
  }

  // ChunkBytes, for the network.
  have(node: number, chunk: number): number {
    return this.haveBytes[node * this.options.chunks + chunk]!;
  }
  whole(node: number, chunk: number): boolean {
    return this.wholeFlag[node * this.options.chunks + chunk] === 1;
  }
  size(chunk: number): number {
    const { chunkSizeBytes, fileBytes } = this.options;
    return Math.min(chunkSizeBytes, fileBytes - chunk * chunkSizeBytes);
  }
  receive(dst: number, chunk: number, bytes: number): void {
    this.haveBytes[dst * this.options.chunks + chunk]! += bytes;
  }

  /** A Distribute call arrived: each task replaces the node's task for its chunk. */
  deliver(node: number, tasks: readonly SimTask[]): void {
    if (this.alive[node] !== 1) return;
    const { chunks, sourcesMax } = this.options;
    for (const t of tasks) {
      const i = node * chunks + t.chunk;
      if (this.wholeFlag[i] === 1) continue;
      const n = Math.min(t.sources.length, sourcesMax);
      for (let k = 0; k < n; k++) this.sources[i * sourcesMax + k] = t.sources[k]!;
      this.sourceCount[i] = n;
      const state = this.task[i];
      if (state === ACTIVE) {
        // Keep a stream that is already on the new parent; otherwise move to it at the same offset.
        const f = this.flow[i]!;
        if (f >= 0 && this.network.ends(f).src === t.sources[0]) {
          this.cursor[i] = 0;
          continue;
        }
        this.stopFetch(i);
        this.cursor[i] = 0;
        this.fetch(node, t.chunk);
        continue;
      }
      this.cursor[i] = 0;
      this.task[i] = PENDING;
      if (t.chunk < this.nextPending[node]!) this.nextPending[node] = t.chunk;
    }
    this.startMore(node);
  }

  /** What the node's next heartbeat reports: chunks completed and tasks failed since the last one. */
  report(node: number): { completed: number[]; failed: number[] } {
    const completed = this.completedSinceReport[node]!;
    const failed = this.failedSinceReport[node]!;
    this.completedSinceReport[node] = [];
    this.failedSinceReport[node] = [];
    return { completed, failed };
  }

  /** The node crashes: its streams break (its children resume from their next source). */
  crash(node: number): void {
    this.alive[node] = 0;
    for (const f of this.network.flowsOf(node)) {
      const { src, dst, chunk } = this.network.ends(f);
      this.network.closeFlow(f);
      const i = dst * this.options.chunks + chunk;
      this.flow[i] = -1;
      if (src === node && this.alive[dst] === 1) this.nextSource(dst, chunk);
    }
  }

  /** The network finished a flow: its receiver has the whole chunk. */
  completed(f: number): void {
    const { dst, chunk } = this.network.ends(f);
    const { chunks } = this.options;
    const i = dst * chunks + chunk;
    this.network.closeFlow(f);
    this.flow[i] = -1;
    this.haveBytes[i] = this.size(chunk);
    this.wholeFlag[i] = 1;
    this.task[i] = DONE;
    this.activeCount[dst]!--;
    this.completedSinceReport[dst]!.push(chunk);
    if (++this.doneCount[dst]! === chunks) {
      this.doneAt[dst] = this.queue.now;
      this.onNodeDone(dst);
    }
    this.startMore(dst);
  }

  holdsEverything(node: number): boolean {
    return this.doneCount[node] === this.options.chunks;
  }

  private startMore(node: number): void {
    const { chunks, downloadsMax } = this.options;
    while (this.activeCount[node]! < downloadsMax) {
      let c = this.nextPending[node]!;
      while (c < chunks && this.task[node * chunks + c] !== PENDING) c++;
      this.nextPending[node] = c;
      if (c >= chunks) return;
      this.task[node * chunks + c] = ACTIVE;
      this.activeCount[node]!++;
      this.fetch(node, c);
    }
  }

  /**
   * Asks the current source, as chunk-fetch and the data service do: the
   * request arrives a latency later; a source that is dead, or neither holds
   * the chunk nor has a task for it, fails it (the answer takes another
   * latency) and the next source is tried at the same offset; otherwise a
   * stream opens. A source with a task it has not started yet keeps the
   * stream waiting up to `followStartWaitS`; a stream that brings nothing for
   * `stallS` is given up.
   */
  private fetch(node: number, chunk: number): void {
    const { chunks, sourcesMax, latencyS } = this.options;
    const i = node * chunks + chunk;
    const at = this.cursor[i]!;
    if (at >= this.sourceCount[i]!) {
      this.task[i] = FAILED;
      this.activeCount[node]!--;
      this.failedSinceReport[node]!.push(chunk);
      this.startMore(node);
      return;
    }
    const src = this.sources[i * sourcesMax + at]!;
    const j = src * chunks + chunk;
    const attempt = ++this.attempt[i]!;
    this.queue.after(latencyS, () => {
      if (!this.current(i, attempt)) return;
      const unknown = this.wholeFlag[j] !== 1 && this.task[j] === NONE;
      if (this.alive[src] !== 1 || (unknown && this.options.awaitTaskS === 0)) {
        this.queue.after(latencyS, () => {
          if (this.current(i, attempt)) this.nextSource(node, chunk);
        });
        return;
      }
      this.flow[i] = this.network.openFlow({ src, dst: node, chunk }, this.queue.now + latencyS);
      if (unknown) {
        this.queue.after(this.options.awaitTaskS, () => {
          if (!this.current(i, attempt) || this.started(j)) return;
          if (this.task[j] === NONE) this.giveUpSource(node, chunk);
          else this.awaitStart(node, chunk, attempt, j);
        });
      } else if (!this.started(j)) {
        this.awaitStart(node, chunk, attempt, j);
      }
      this.watchStall(node, chunk, attempt);
    });
  }

  private awaitStart(node: number, chunk: number, attempt: number, j: number): void {
    const i = node * this.options.chunks + chunk;
    this.queue.after(this.options.followStartWaitS, () => {
      if (this.current(i, attempt) && !this.started(j)) this.giveUpSource(node, chunk);
    });
  }

  /** Whether a source has begun receiving the chunk (or holds it). */
  private started(j: number): boolean {
    return this.wholeFlag[j] === 1 || this.task[j] === ACTIVE || this.task[j] === DONE;
  }

  private current(i: number, attempt: number): boolean {
    return this.attempt[i] === attempt && this.task[i] === ACTIVE && this.alive[Math.floor(i / this.options.chunks)] === 1;
  }

  private watchStall(node: number, chunk: number, attempt: number): void {
    const i = node * this.options.chunks + chunk;
    const before = this.haveBytes[i]!;
    this.queue.after(this.options.stallS, () => {
      if (!this.current(i, attempt)) return;
      if (this.haveBytes[i]! > before) this.watchStall(node, chunk, attempt);
      else this.giveUpSource(node, chunk);
    });
  }

  private giveUpSource(node: number, chunk: number): void {
    this.stopFetch(node * this.options.chunks + chunk);
    this.nextSource(node, chunk);
  }

  private nextSource(node: number, chunk: number): void {
    const i = node * this.options.chunks + chunk;
    this.cursor[i]!++;
    this.fetch(node, chunk);
  }

  private stopFetch(i: number): void {
    const f = this.flow[i]!;
    if (f >= 0) this.network.closeFlow(f);
    this.flow[i] = -1;
    this.attempt[i]!++;
  }
}
