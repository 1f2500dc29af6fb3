/**
 * The job lifecycle's contract: the outcome of a job, the actions the pure `JobLifecycle` asks
 * its effects to carry out, and its options. Shared by the local executor and the JobManager.
 */
import type { FlotillaError, JobEnd, JobState } from "../../core/mod.ts";
import type { RestartPolicy } from "../runtime/restart.ts";

/** Each vertex's parallelism, by vertex id (what the adaptive scheduler deploys with). */
export type Parallelism = Readonly<Record<string, number>>;

/** An error as it travels in an outcome: a stable code and a message. */
export interface JobError {
  readonly code: string;
  readonly message: string;
}

/**
 * How a job ended. The local executor's `JobResult` and the JobManager's outcome are this plus
 * what each adds (the job id, collected results, the duration); `E` is `FlotillaError` where
 * the error stays in-process and the plain `JobError` where it crosses the wire.
 */
export interface JobOutcome<E extends JobError = JobError> {
  state: JobEnd;
  /** Why the job failed (set only when `state` is failed). */
  error?: E;
  /** Attempts deployed again after a failure (a rescale is not a restart). */
  restarts: number;
  /** Attempts deployed at another parallelism than the one before. */
  rescales: number;
  /** Checkpoints (and savepoints) completed. */
  checkpoints: number;
  /** The savepoint a stop-with-savepoint took. */
  savepoint?: string;
}

/** A task's key in an attempt: `<vertexId>/<subtask>`, as the checkpoint coordinator keys acks. */
export function taskKey(vertexId: string, subtask: number): string {
  return `${vertexId}/${subtask}`;
}

/**
 * What the lifecycle asks of its effects. None of them reports back by itself: where an
 * action's result matters, the effects call the event named in its comment.
 */
export type JobLifecycleAction =
  /** The job's state changed (log it, tell observers). Comes before the actions it causes. */
  | { kind: "state"; from: JobState; to: JobState; why?: string }
  /**
   * Get the resources for the next attempt (declare requirements) and start the resource
   * timeout. Then: `resourcesReady()`, or `resourcesTimedOut()`.
   */
  | { kind: "await-resources" }
  /**
   * Deploy every task of attempt `attempt` (at `parallelism` when given), restoring the latest
   * completed checkpoint, and attach the checkpoint coordinator. Then: `taskStateChanged()` as
   * the tasks report, `attemptFailed()` for a failure no task reports.
   */
  | { kind: "deploy"; attempt: number; parallelism?: Parallelism }
  /**
   * The attempt is over: detach the checkpoint coordinator and cancel its tasks still running.
   * Then: their final states by `taskStateChanged()`, or `attemptStopped()` when the effects
   * give up waiting (a task stuck in user code, a TaskManager that does not answer).
   */
  | { kind: "stop-attempt"; attempt: number; reason: string }
  /** Wait `delayMs` before the restart. Then: `restartDelayElapsed(attempt)`. */
  | { kind: "schedule-restart"; attempt: number; delayMs: number }
  /**
   * Take the savepoint of a stop-with-savepoint. Then: `savepointCompleted()` with its path,
   * or `savepointFailed()`.
   */
  | { kind: "trigger-savepoint"; attempt: number }
  /**
   * Take the checkpoint a rescale restores from. Then: `rescaleCheckpointDone()` (also when it
   * failed: the rescale restores the latest completed one).
   */
  | { kind: "trigger-checkpoint"; attempt: number }
  /** A stop-with-savepoint did not happen (its savepoint failed): answer its caller. */
  | { kind: "stop-failed"; error: FlotillaError }
  /** The job ended: release its resources and hand its outcome out. */
  | { kind: "end"; outcome: JobOutcome<FlotillaError> }
  /**
   * Leadership lost: stop acting for the job at once (timers, the coordinator) without
   * canceling its tasks, releasing its resources or producing an outcome.
   */
  | { kind: "suspend" };

export type JobLifecycleActionKind = JobLifecycleAction["kind"];
export type JobLifecycleActionOf<K extends JobLifecycleActionKind> = Extract<
  JobLifecycleAction,
  { kind: K }
>;

export interface JobLifecycleOptions {
  /** Decides whether and when a failed attempt restarts (`restartPolicy(strategy)`). */
  restartPolicy: RestartPolicy;
  /**
   * The tasks an attempt at `parallelism` has (`taskKey`s); `undefined` is the job's own
   * parallelism. The lifecycle follows their states to know when an attempt finished or stopped.
   */
  tasksAt(parallelism: Parallelism | undefined): readonly string[];
  /**
   * The first attempt's number. A JobManager recovered after a failover starts above every
   * attempt its predecessor may have deployed. @default 0
   */
  firstAttempt?: number;
  /** The clock the restart strategy reads, in ms. @default Date.now */
  now?: () => number;
}
