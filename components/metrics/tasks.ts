/**
 * Task-scope metrics of the subtasks a TaskManager runs
 * (`flink_taskmanager_job_task_*{tm_id,job_id,task_id,task_name,subtask_index,...}`), from the
 * counters each task keeps (`Task.metrics()`), with Flink's per-second rates taken between
 * scrapes. A subtask's series exist while it runs: ended jobs leave no series behind.
 */

import { Gauge } from "prom-client";
import { vertexHexId } from "../core/mod.ts";
import { FlinkScope, flinkMetricName, labelValue, NO_WATERMARK, TASK_LABELS } from "./names.ts";
import { processMetrics, scrapeGeneration } from "./registry.ts";
import { TrackedSources } from "./snapshots.ts";

/** One running subtask's counters, as its TaskManager reads them. */
export interface TaskMetricsRow {
  tmId: string;
  jobId: string;
  /** Empty when the TaskManager does not know it (job code runs in a job process). */
  jobName: string;
  vertexId: string;
  taskName: string;
  subtask: number;
  attempt: number;
  /** `Task.metrics()`: recordsIn, recordsOut, bytesIn, bytesOut, busyMs, idleMs, ... */
  counters: Record<string, number>;
}

/** Subtasks whose series one process serves (a TaskManager's slots times its chains, with room). */
export const MAX_TRACKED_SUBTASKS = 4096;

/** Rates are taken over at least this long, however often the endpoint is scraped. */
const MIN_RATE_WINDOW_MS = 1000;

type Sample = { at: number; counters: Record<string, number> };
/** A subtask's cumulative counters and the rates taken of them. */
type Figures = {
  counters: Readonly<Record<string, number>>;
  rates: Readonly<Record<string, number>>;
};
type Rated = TaskMetricsRow & Figures;

/** The counters a per-second rate is kept of, and the rate's Flink name. */
export const RATES: readonly [counter: string, name: string][] = [
  ["recordsIn", "numRecordsInPerSecond"],
  ["recordsOut", "numRecordsOutPerSecond"],
  ["bytesIn", "numBytesInPerSecond"],
  ["bytesOut", "numBytesOutPerSecond"],
  ["busyMs", "busyTimeMsPerSecond"],
  ["idleMs", "idleTimeMsPerSecond"],
  ["backPressuredMs", "backPressuredTimeMsPerSecond"],
];

/** Series of the task scope: [name, help, value from a rated row]. */
const TASK_GAUGES: readonly [string, string, (r: Figures) => number][] = [
  ["numRecordsIn", "Records this subtask took in.", (r) => r.counters.recordsIn ?? 0],
  ["numRecordsOut", "Records this subtask emitted.", (r) => r.counters.recordsOut ?? 0],
  ["numBytesIn", "Bytes this subtask read from remote channels.", (r) => r.counters.bytesIn ?? 0],
  ["numBytesOut", "Bytes this subtask wrote to remote channels.", (r) => r.counters.bytesOut ?? 0],
  ...RATES.map(([, name]): [string, string, (r: Figures) => number] => [
    name,
    `${name.replace(/PerSecond$/, "")} per second, over the time since the previous scrape (at least 1 s).`,
    (r) => r.rates[name] ?? 0,
  ]),
  [
    "currentInputWatermark",
    "The last watermark this subtask received, epoch ms (Long.MIN_VALUE: none yet).",
    (r) => r.counters.inputWatermark ?? NO_WATERMARK,
  ],
  [
    "currentOutputWatermark",
    "The last watermark this subtask emitted, epoch ms (Long.MIN_VALUE: none yet).",
    (r) => r.counters.outputWatermark ?? NO_WATERMARK,
  ],
];

/** flotilla's own data-plane series (Flink's Netty shuffle has no counterpart). */
const FLOTILLA_GAUGES: readonly [string, string, (r: Figures) => number][] = [
  [
    "flotilla_taskmanager_job_task_creditWaits",
    "Batches this subtask had to hold back until its receiver granted credit (backpressure).",
    (r) => r.counters.creditWaits ?? 0,
  ],
];

/**
 * A subtask's figures by Flink's metric id (`numRecordsIn`, `busyTimeMsPerSecond`, ...), for the
 * REST metric queries; `rates` by the rate's name (`RATES`).
 */
export function taskMetricValues(figures: Figures): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, , value] of TASK_GAUGES) out[name] = value(figures);
  return out;
}

let tasks: TrackedSources<TaskMetricsRow> | undefined;
const samples = new Map<string, Sample>();

function rowKey(r: TaskMetricsRow): string {
  return `${r.tmId}/${r.jobId}/${r.attempt}/${r.vertexId}/${r.subtask}`;
}

/** Rows with their rates; forgets the samples of subtasks that are gone. */
function rated(rows: TaskMetricsRow[], now: number): Rated[] {
  const seen = new Set<string>();
  const out = rows.map((row) => {
    const key = rowKey(row);
    seen.add(key);
    const prev = samples.get(key);
    const rates: Record<string, number> = {};
    if (prev && now > prev.at)
      for (const [counter, name] of RATES)
        rates[name] =
          (((row.counters[counter] ?? 0) - (prev.counters[counter] ?? 0)) * 1000) / (now - prev.at);
    if (!prev || now - prev.at >= MIN_RATE_WINDOW_MS)
      samples.set(key, { at: now, counters: { ...row.counters } });
    return { ...row, rates };
  });
  for (const key of samples.keys()) if (!seen.has(key)) samples.delete(key);
  return out;
}

function trackedTasks(): TrackedSources<TaskMetricsRow> {
  if (tasks) return tasks;
  const tracked = new TrackedSources<TaskMetricsRow>(MAX_TRACKED_SUBTASKS);
  const metrics = processMetrics(FlinkScope.TASK_MANAGER);
  let scrape: { generation: number; rows: Rated[] } | undefined;
  const current = (): Rated[] => {
    const generation = scrapeGeneration();
    if (scrape?.generation === generation) return scrape.rows;
    const { rows, dropped } = tracked.rows();
    metrics.droppedSeries.set(
      { metric: flinkMetricName(FlinkScope.TASK_MANAGER_TASK, "*") },
      dropped,
    );
    scrape = { generation, rows: rated(rows, performance.now()) };
    return scrape.rows;
  };
  const families = [
    ...TASK_GAUGES.map(
      ([n, h, v]) => [flinkMetricName(FlinkScope.TASK_MANAGER_TASK, n), h, v] as const,
    ),
    ...FLOTILLA_GAUGES,
  ];
  for (const [name, help, value] of families)
    new Gauge({
      name,
      help,
      labelNames: TASK_LABELS,
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const r of current()) this.set(taskLabels(r), value(r));
      },
    });
  tasks = tracked;
  return tracked;
}

export function taskLabels(r: TaskMetricsRow): Record<(typeof TASK_LABELS)[number], string> {
  return {
    tm_id: r.tmId,
    job_id: r.jobId,
    job_name: labelValue(r.jobName),
    task_id: vertexHexId(r.vertexId),
    task_name: labelValue(r.taskName),
    subtask_index: String(r.subtask),
    task_attempt_num: String(r.attempt),
  };
}

/** Serves the subtasks `rows` returns (a TaskManager's) until the returned function is called. */
export function trackTaskManager(tmId: string, rows: () => TaskMetricsRow[]): () => void {
  return trackedTasks().track(tmId, rows);
}

/** The rows of every tracked TaskManager now (the metric query routes read them). */
export function taskRows(): TaskMetricsRow[] {
  return trackedTasks().rows().rows;
}
