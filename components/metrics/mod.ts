/** Public API of components/metrics: Flink-named Prometheus metrics of every block (prom-client). */

export {
  type DispatcherMetrics,
  dispatcherMetrics,
  type ResourceSnapshot,
  trackResourceManager,
} from "./cluster.ts";
export { type JobMetricsSnapshot, jobSnapshots, MAX_TRACKED_JOBS, trackJob } from "./jobs.ts";
export { FlinkScope, flinkMetricName, NO_WATERMARK } from "./names.ts";
export { type ProcessMetrics, processMetrics } from "./registry.ts";
export {
  MAX_TRACKED_SUBTASKS,
  type TaskMetricsRow,
  taskLabels,
  taskRows,
  trackTaskManager,
} from "./tasks.ts";
