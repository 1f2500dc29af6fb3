/** Public API of components/dispatcher: the REST front door and the jobs' JobManagers. */

export {
  type ArtifactRetentionOptions,
  MAX_COLLECTED_PER_SWEEP,
} from "./artifact_sweeper.ts";
export { createDispatcher, type Dispatcher } from "./dispatcher.ts";
export { type JobStoreOptions, MAX_EXPIRED_PER_RUN } from "./ended_jobs.ts";
export {
  type GraphBuilder,
  type GraphBuildRequest,
  graphBuilderFrom,
  inProcessGraphBuilder,
  sandboxedGraphBuilder,
} from "./graph_builder.ts";
export { type DispatcherAppOptions, dispatcherApp, dispatcherHandlers } from "./handlers.ts";
export { DEFAULT_JOBS_PAGE } from "./job_listing.ts";
export {
  ATTEMPTS_PER_TERM,
  firstAttemptOfTerm,
  savepointDeadlines,
} from "./job_managers.ts";
export { jobMetricsOf, jobStatusHere, trackJobMaster } from "./job_metrics.ts";
export { type MetricQuerySources, metricQueryHandlers } from "./metric_queries.ts";
export { type DispatcherOptions, dispatcherLimitsFrom } from "./options.ts";
export type {
  DispatcherStores,
  JobManagerFabric,
  JobRecord,
  JobResultRecord,
  Serving,
} from "./types.ts";
