/** The job lifecycle shared by the local executor and the JobManager: a pure state machine. */
export { JobLifecycle } from "./job_lifecycle.ts";
export {
  type JobError,
  type JobLifecycleAction,
  type JobLifecycleActionKind,
  type JobLifecycleActionOf,
  type JobLifecycleOptions,
  type JobOutcome,
  type Parallelism,
  taskKey,
} from "./types.ts";
