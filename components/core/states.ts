/**
 * The states of a job and of one of its tasks (Flink's JobStatus and ExecutionState, in lower
 * case), shared by the job lifecycle, the blocks' contracts and the CLI.
 */

/**
 * A job's state. A JobManager passes through failing while it stops an attempt, and is
 * suspended (no result: the job is not over) when its Dispatcher loses leadership and the next
 * leader takes the job over.
 */
export const JobState = {
  CREATED: "created",
  RUNNING: "running",
  FAILING: "failing",
  RESTARTING: "restarting",
  CANCELING: "canceling",
  FINISHED: "finished",
  CANCELED: "canceled",
  FAILED: "failed",
  SUSPENDED: "suspended",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

/** How a job ended: the states that are its result (suspended is not: the job goes on). */
export type JobEnd = typeof JobState.FINISHED | typeof JobState.CANCELED | typeof JobState.FAILED;

export function isJobEnd(state: JobState): state is JobEnd {
  return state === JobState.FINISHED || state === JobState.CANCELED || state === JobState.FAILED;
}

/** The state of one subtask of one attempt. */
export const TaskState = {
  DEPLOYING: "deploying",
  RUNNING: "running",
  FINISHED: "finished",
  CANCELING: "canceling",
  CANCELED: "canceled",
  FAILED: "failed",
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** A task in one of these states does no more work and sends no more reports. */
export function isTaskEnd(state: TaskState): boolean {
  return state === TaskState.FINISHED || state === TaskState.CANCELED || state === TaskState.FAILED;
}
