/**
 * The states of a job and of one of its tasks, spelled as Flink's JobStatus and ExecutionState
 * (so its REST API and tools read them unchanged), shared by the job lifecycle, the blocks'
 * contracts and the CLI.
 */

/**
 * A job's state. A JobManager passes through failing while it stops an attempt, and is
 * suspended (no result: the job is not over) when its Dispatcher loses leadership and the next
 * leader takes the job over.
 */
export const JobState = {
  CREATED: "CREATED",
  RUNNING: "RUNNING",
  FAILING: "FAILING",
  RESTARTING: "RESTARTING",
  /** Flink's JobStatus spells it with two Ls (its ExecutionState with one). */
  CANCELING: "CANCELLING",
  FINISHED: "FINISHED",
  CANCELED: "CANCELED",
  FAILED: "FAILED",
  SUSPENDED: "SUSPENDED",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

/** How a job ended: the states that are its result (suspended is not: the job goes on). */
export type JobEnd = typeof JobState.FINISHED | typeof JobState.CANCELED | typeof JobState.FAILED;

/** Takes any status string: Flink's JobStatus, as the REST API answers it, has states flotilla's lacks. */
export function isJobEnd(state: string): state is JobEnd {
  return state === JobState.FINISHED || state === JobState.CANCELED || state === JobState.FAILED;
}

/** The state of one subtask of one attempt. */
export const TaskState = {
  DEPLOYING: "DEPLOYING",
  RUNNING: "RUNNING",
  FINISHED: "FINISHED",
  CANCELING: "CANCELING",
  CANCELED: "CANCELED",
  FAILED: "FAILED",
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** A task in one of these states does no more work and sends no more reports. */
export function isTaskEnd(state: TaskState): boolean {
  return state === TaskState.FINISHED || state === TaskState.CANCELED || state === TaskState.FAILED;
}
