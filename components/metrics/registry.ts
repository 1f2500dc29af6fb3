/**
 * One prom-client registry per process: every block the process hosts adds its collectors to it,
 * and each of its HTTP endpoints (REST `/metrics`, the health port's `/metrics`) serves it.
 */
import { hostname } from "node:os";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { FlinkScope } from "./names.ts";
import { registerProcessStatus } from "./process_status.ts";

export interface ProcessMetrics {
  readonly registry: Registry;
  /** Series the last scrape left out because their family reached its cap (by family). */
  readonly droppedSeries: Gauge<"metric">;
  /** The Prometheus text of everything registered, plus `extra` (text from outside prom-client). */
  text(extra?: string): Promise<string>;
  readonly contentType: string;
}

let instance: ProcessMetrics | undefined;
let generation = 0;

/** Counts scrapes: collectors that share a source read it once per scrape (`TrackedSources`). */
export function scrapeGeneration(): number {
  return generation;
}

/**
 * The process's registry, made on first use with prom-client's default process metrics (CPU,
 * heap, RSS, event-loop lag: `process_*`, `nodejs_*`) and their Flink-named `Status` gauges
 * under `scope` (the first caller's: a TaskManager process says taskmanager, any other role
 * jobmanager, as Flink's processes do). Every series carries `host`.
 */
export function processMetrics(scope: FlinkScope = FlinkScope.JOB_MANAGER): ProcessMetrics {
  if (instance) return instance;
  const registry = new Registry();
  registry.setDefaultLabels({ host: hostname() });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  registerProcessStatus(registry, scope);
  const droppedSeries = new Gauge({
    name: "flotilla_metrics_dropped_series",
    help: "Series the last scrape left out because their family reached its cap, by family.",
    labelNames: ["metric"],
    registers: [registry],
  });
  instance = {
    registry,
    droppedSeries,
    contentType: registry.contentType,
    async text(extra = "") {
      generation++;
      const text = await registry.metrics();
      return extra ? `${text}${text.endsWith("\n") ? "" : "\n"}${extra}` : text;
    },
  };
  return instance;
}
