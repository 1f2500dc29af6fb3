/** Public API of components/metrics: Flink-named Prometheus metrics of every block (prom-client). */

export {
  type DispatcherMetrics,
  dispatcherMetrics,
  type ResourceSnapshot,
  trackResourceManager,
} from "./cluster.ts";
export {
  type JobMetricsSnapshot,
  jobMetricValues,
  jobSnapshots,
  MAX_TRACKED_JOBS,
  trackedJobCount,
  trackJob,
} from "./jobs.ts";
export { FlinkScope, flinkMetricName, NO_WATERMARK } from "./names.ts";
export { processStatus } from "./process_status.ts";
export { type ProcessMetrics, processMetrics } from "./registry.ts";
export {
  type HttpSdGroups,
  MAX_SCRAPE_TARGETS,
  type ScrapeHost,
  scrapeTargets,
  trackScrapeTargets,
} from "./targets.ts";
export {
  MAX_TRACKED_SUBTASKS,
  RATES,
  type TaskMetricsRow,
  taskLabels,
  taskMetricValues,
  taskRows,
  trackTaskManager,
} from "./tasks.ts";
