/** Public API of components/jobmanager: one JobManager per job, its Hono app and its contract. */
export {
  type Bounds,
  type Clock,
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
export { type JobManagerApp, jobManagerApp } from "./block.ts";
export {
  createJobMaster,
  type JobManagerOptions,
  type JobMaster,
  type JobOutcome,
  JobStatus,
} from "./job_master.ts";
export { covers, type PooledSlot, SlotPool } from "./slot_pool.ts";
export {
  checkpointAckSchema,
  checkpointDeclineSchema,
  type Profile,
  profileSchema,
  type ResourceRequirements,
  resourceRequirementsSchema,
  resourcesUnavailableSchema,
  resultsSchema,
  type SlotOffer,
  slotOfferSchema,
  sourceEndedSchema,
  type TaskReport,
  taskReportSchema,
} from "./types.ts";
