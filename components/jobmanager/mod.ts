/**
 * Public API of components/jobmanager: one JobManager per job and the app it is served as. Its
 * contract (routes, messages, the app type callers are typed from) is components/protocol's.
 */
export {
  type Bounds,
  chooseParallelism,
  compileScheduler,
  decide,
  defaultBounds,
  type SchedulerOptions,
  StabilizationWindow,
  schedulerOptionsFrom,
  slotModel,
  slotsFor,
  type VertexBounds,
  type VertexParallelism,
} from "./adaptive.ts";
export { CheckpointStats, DEFAULT_CHECKPOINTS_HISTORY } from "./checkpoint_stats.ts";
export { DEFAULT_EXCEPTION_HISTORY_SIZE, ExceptionHistory } from "./exception_history.ts";
export { jobManagerApp, jobManagerHandlers } from "./handlers.ts";
export { JobHistory, type JobHistoryBounds } from "./job_history.ts";
export { createJobMaster, type JobMaster } from "./job_master.ts";
export {
  DEFAULT_TASK_CANCELLATION_TIMEOUT_MS,
  type JobManagerDeadlines,
  type JobManagerOptions,
  jobHistoryBoundsFrom,
  jobManagerDeadlinesFrom,
} from "./options.ts";
export { covers, type PooledSlot, SlotPool } from "./slot_pool.ts";
