import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { sendText, type HttpServer } from './http-server.js';

/**
 * Prometheus metrics. Every process makes one Registry here and hands it
 * down through its context; nothing registers in prom-client's global
 * registry, so tests can make as many as they like. Names follow
 * Prometheus conventions: `dfs_` first, units last (`_bytes`, `_seconds`),
 * counters end in `_total`. README's "Metrics" table lists every one.
 */
export type MetricsRegistry = Registry;

/**
 * `processMetrics`: add Node's process metrics (CPU, memory, event loop lag,
 * GC, handles). Only a process's own registry should: each call starts an
 * event-loop-delay monitor and a GC observer that live as long as the process.
 */
export function createMetricsRegistry(options: { processMetrics: boolean }): MetricsRegistry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** GET /metrics in the Prometheus text format. */
export function serveMetrics(http: HttpServer, registry: MetricsRegistry): void {
  http.get('/metrics', async (_req, res) => {
    sendText(res, 200, await registry.metrics(), registry.contentType);
  });
}

/** What hot paths need of a counter: one call, its labels bound where the metric is made (prom-client still hashes them on every `inc`). */
export interface CounterCell {
  inc(value?: number): void;
}

/**
 * A counter whose total lives elsewhere (a plain number some module already
 * keeps) and is read at scrape time, so the code that counts needs no
 * metrics object. `read` must never decrease.
 */
export function counterReading(registry: MetricsRegistry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge read at scrape time (queue lengths, sizes): nothing is updated on every change. */
export function gaugeReading(registry: MetricsRegistry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A gauge with one label, read at scrape time: `read` returns each label value's reading. */
export function labelledGaugeReading<L extends string>(
  registry: MetricsRegistry,
  name: string,
  help: string,
  label: L,
  read: () => Iterable<readonly [string, number]>,
): void {
  new Gauge<L>({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, reading] of read()) this.set({ [label]: value } as Record<L, string>, reading);
    },
  });
}
