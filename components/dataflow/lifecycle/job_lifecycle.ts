/**
 * The job lifecycle as a pure state machine (after Flink's scheduler states): attempts, task
 * states, restarts by strategy, rescales, cancel, stop-with-savepoint, suspend. Each event
 * returns the actions its effects carry out (deploy, stop an attempt, wait, end); it does no
 * I/O, keeps no timers and reads time only through the injected clock.
 */
import {
  ErrorCode,
  FlotillaError,
  isJobEnd,
  isTaskEnd,
  type JobEnd,
  JobState,
  TaskState,
} from "../../core/mod.ts";
import type { RestartPolicy } from "../runtime/restart.ts";
import { AttemptTasks } from "./attempt_tasks.ts";
import { AttemptResources } from "./resources.ts";
import type { JobLifecycleAction, JobLifecycleOptions, JobOutcome, Parallelism } from "./types.ts";

type Actions = JobLifecycleAction[];

export class JobLifecycle {
  readonly #jobId: string;
  readonly #policy: RestartPolicy;
  readonly #tasksAt: JobLifecycleOptions["tasksAt"];
  readonly #now: () => number;
  #state: JobState = JobState.CREATED;
  #started = false;
  #attempt: number;
  #deployed = false;
  #tasks = new AttemptTasks([]);
  /** A stop of the current attempt was asked for and it has not stopped yet. */
  #stopping = false;
  #failure: { error: FlotillaError; restartable: boolean } | undefined;
  #endError: FlotillaError | undefined;
  readonly #resources = new AttemptResources();
  /** A rescale waiting for its checkpoint. */
  #rescale: { attempt: number; why: string } | undefined;
  #stopPending = false;
  #savepoint: string | undefined;
  #restarts = 0;
  #rescales = 0;
  #checkpoints = 0;

  constructor(jobId: string, options: JobLifecycleOptions) {
    this.#jobId = jobId;
    this.#policy = options.restartPolicy;
    this.#tasksAt = options.tasksAt;
    this.#now = options.now ?? Date.now;
    this.#attempt = options.firstAttempt ?? 0;
  }

  // ---- events: resources ----------------------------------------------------------------------

  /** The job was submitted: deploy when the resources are there, else ask for them. */
  start(): Actions {
    if (this.#state !== JobState.CREATED || this.#started) return [];
    this.#started = true;
    return this.#deployOrWait("started");
  }

  /** The resources for the next attempt are there (at `parallelism`): a waiting job deploys. */
  resourcesReady(parallelism?: Parallelism): Actions {
    this.#resources.offer(parallelism);
    if (this.#state !== JobState.CREATED || !this.#started) return [];
    return this.#deploy("resources ready");
  }

  /** The resources are gone (a TaskManager lost): the next attempt waits for them again. */
  resourcesLost(): void {
    this.#resources.lose();
  }

  /** The resources did not come in time: a job still waiting fails, without a restart. */
  resourcesTimedOut(error: FlotillaError): Actions {
    if (this.#state !== JobState.CREATED) return [];
    return this.#end(JobState.FAILED, withReason(error, "not restartable"));
  }

  // ---- events: the attempt --------------------------------------------------------------------

  /**
   * A task of `attempt` reports its state (late reports are ignored). A failed task fails the
   * attempt; so does one canceled while the job did not ask (a lost TaskManager, a fault).
   */
  taskStateChanged(
    attempt: number,
    task: string,
    state: TaskState,
    error?: FlotillaError,
  ): Actions {
    if (!this.#isCurrent(attempt) || !this.#tasks.report(task, state)) return [];
    if (!isTaskEnd(state)) return [];
    if (state === TaskState.FAILED)
      return this.#fail(error ?? new FlotillaError(ErrorCode.INTERNAL, `task ${task} failed`));
    if (state === TaskState.CANCELED && this.#state === JobState.RUNNING && !this.#stopping)
      return this.#fail(new FlotillaError(ErrorCode.CANCELED, `task ${task} was canceled`));
    return this.#settle();
  }

  /** `attempt` failed as a whole (checkpoints kept expiring, a TaskManager lost, ...). */
  attemptFailed(
    attempt: number,
    error: FlotillaError,
    { restartable = true }: { restartable?: boolean } = {},
  ): Actions {
    if (!this.#isCurrent(attempt)) return [];
    return this.#fail(error, restartable);
  }

  /** The effects gave up waiting for `attempt`'s tasks to stop (stuck in user code, say). */
  attemptStopped(attempt: number): Actions {
    if (!this.#isCurrent(attempt) || !this.#stopping) return [];
    this.#stopping = false;
    return this.#afterStop();
  }

  /** The restart delay of `attempt` is over: deploy again, or wait for resources. */
  restartDelayElapsed(attempt: number): Actions {
    if (this.#state !== JobState.RESTARTING || this.#stopping || !this.#isCurrent(attempt))
      return [];
    this.#restarts++;
    return this.#deployOrWait("restarting");
  }

  checkpointCompleted(): void {
    this.#checkpoints++;
  }

  // ---- events: requests -----------------------------------------------------------------------

  /** Cancels the job: stops its attempt (if one runs), then ends canceled. */
  cancel(): Actions {
    switch (this.#state) {
      case JobState.CREATED:
        return this.#end(JobState.CANCELED);
      case JobState.RUNNING:
        this.#rescale = undefined;
        return [
          ...this.#setState(JobState.CANCELING, "canceled"),
          ...this.#stopAttempt("job canceled"),
        ];
      case JobState.FAILING:
      case JobState.RESTARTING:
        // The attempt is stopping already (a failure, a rescale) or stopped (the restart delay).
        this.#failure = undefined;
        if (!this.#stopping) return this.#end(this.#canceledEnd());
        return this.#setState(JobState.CANCELING, "canceled");
      default:
        return [];
    }
  }

  /** Throws CONFLICT unless the job runs: savepoints need running tasks. */
  checkSavepoint(): void {
    if (this.#state !== JobState.RUNNING)
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `job ${this.#jobId} is ${this.#state}: savepoints need a running job`,
      );
  }

  /** Savepoint, then stop; the job ends finished with it (CONFLICT if not running, or stopping). */
  stopWithSavepoint(): Actions {
    this.checkSavepoint();
    if (this.#stopPending)
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `job ${this.#jobId} is stopping already: wait for its end`,
      );
    this.#stopPending = true;
    return [{ kind: "trigger-savepoint", attempt: this.#attempt }];
  }

  /** The stop's savepoint is complete at `path`: stop the attempt, end finished with it. */
  savepointCompleted(path: string): Actions {
    if (!this.#stopPending) return [];
    this.#stopPending = false;
    this.#savepoint = path;
    const why = `stopping with savepoint ${path}`;
    switch (this.#state) {
      case JobState.RUNNING:
        this.#rescale = undefined;
        return [...this.#setState(JobState.CANCELING, why), ...this.#stopAttempt(why)];
      case JobState.FAILING:
      case JobState.RESTARTING:
        this.#failure = undefined;
        if (!this.#stopping) return this.#end(JobState.FINISHED);
        return this.#setState(JobState.CANCELING, why);
      case JobState.CREATED:
        return this.#end(JobState.FINISHED);
      case JobState.CANCELING:
        return [];
      default: {
        const error = new FlotillaError(
          ErrorCode.CONFLICT,
          `job ${this.#jobId} is ${this.#state}: savepoint ${path} was taken, but the job did not stop with it`,
        );
        return [{ kind: "stop-failed", error }];
      }
    }
  }

  /** The stop's savepoint failed: the job goes on as it was, and the stop's caller is told. */
  savepointFailed(error: FlotillaError): Actions {
    if (!this.#stopPending) return [];
    this.#stopPending = false;
    return [{ kind: "stop-failed", error }];
  }

  /**
   * The adaptive scheduler wants the running job at `parallelism`: checkpoint, stop the
   * attempt, deploy at the new parallelism (not counted as a restart). Ignored unless running
   * and not stopping; a rescale already waiting for its checkpoint takes the new target.
   */
  rescale(parallelism: Parallelism, why: string): Actions {
    if (this.#state !== JobState.RUNNING || this.#stopPending) return [];
    this.#resources.offer(parallelism);
    if (this.#rescale) {
      this.#rescale.why = why;
      return [];
    }
    if (this.#resources.deployedAt(parallelism)) return [];
    this.#rescale = { attempt: this.#attempt, why };
    return [{ kind: "trigger-checkpoint", attempt: this.#attempt }];
  }

  /**
   * The rescale's checkpoint is done (or failed: the redeploy restores the latest one anyway).
   * `proceed: false` drops the rescale: the attempt is finishing, its input ended.
   */
  rescaleCheckpointDone(attempt: number, { proceed = true }: { proceed?: boolean } = {}): Actions {
    const rescale = this.#rescale;
    if (!rescale || rescale.attempt !== attempt) return [];
    if (!proceed || this.#stopPending || this.#state !== JobState.RUNNING) {
      this.#rescale = undefined;
      return [];
    }
    const why = `rescaling: ${rescale.why}`;
    return [...this.#setState(JobState.RESTARTING, why), ...this.#stopAttempt(why)];
  }

  /** Leadership lost: the job goes on elsewhere; no cancel, no release, no outcome from here. */
  suspend(): Actions {
    if (isJobEnd(this.#state) || this.#state === JobState.SUSPENDED) return [];
    this.#stopping = false;
    this.#rescale = undefined;
    return [...this.#setState(JobState.SUSPENDED, "leadership lost"), { kind: "suspend" }];
  }

  // ---- queries --------------------------------------------------------------------------------

  get state(): JobState {
    return this.#state;
  }

  /** Why the job failed, from the moment it is failed (its end's effects may still run). */
  get failure(): FlotillaError | undefined {
    return this.#state === JobState.FAILED ? this.#endError : undefined;
  }

  /** Why the current attempt is failing, while it stops (the exception history's root cause). */
  get attemptFailure(): FlotillaError | undefined {
    return this.#failure?.error;
  }

  /** The current attempt's number (the first one's before it is deployed). */
  get attempt(): number {
    return this.#attempt;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get rescales(): number {
    return this.#rescales;
  }

  get checkpoints(): number {
    return this.#checkpoints;
  }

  /** The current attempt's tasks by key, with the state each last reported. */
  taskStates(): ReadonlyMap<string, TaskState> {
    return this.#tasks.states();
  }

  // ---- internals ------------------------------------------------------------------------------

  #isCurrent(attempt: number): boolean {
    return this.#deployed && attempt === this.#attempt;
  }

  #setState(to: JobState, why?: string): Actions {
    const from = this.#state;
    if (from === to) return [];
    this.#state = to;
    return [{ kind: "state", from, to, ...(why ? { why } : {}) }];
  }

  #deployOrWait(why: string): Actions {
    if (this.#resources.ready) return this.#deploy(why);
    return [
      ...this.#setState(JobState.CREATED, "waiting for resources"),
      { kind: "await-resources" },
    ];
  }

  #deploy(why: string): Actions {
    const { parallelism, rescaled } = this.#resources.deploy();
    if (rescaled) this.#rescales++;
    if (this.#deployed) this.#attempt++;
    this.#deployed = true;
    this.#tasks = new AttemptTasks(this.#tasksAt(parallelism));
    this.#stopping = false;
    this.#failure = undefined;
    this.#rescale = undefined;
    const deploy: JobLifecycleAction = {
      kind: "deploy",
      attempt: this.#attempt,
      ...(parallelism ? { parallelism } : {}),
    };
    return [...this.#setState(JobState.RUNNING, why), deploy, ...this.#settle()];
  }

  #fail(error: FlotillaError, restartable = true): Actions {
    // A subtask whose upstream failed fails too, its channel canceled (CANCELED), and may report
    // first (a channel within a job process is quicker than the upstream's report): the failure
    // that caused it, reported next, is the attempt's.
    const cause = this.#failure;
    if (
      this.#state === JobState.FAILING &&
      cause?.error.code === ErrorCode.CANCELED &&
      error.code !== ErrorCode.CANCELED
    )
      this.#failure = { error, restartable: restartable && cause.restartable };
    if (this.#state !== JobState.RUNNING) return this.#settle();
    this.#failure = { error, restartable };
    this.#rescale = undefined;
    return [
      ...this.#setState(JobState.FAILING, error.message),
      ...this.#stopAttempt(error.message),
    ];
  }

  #stopAttempt(reason: string): Actions {
    this.#stopping = true;
    return [{ kind: "stop-attempt", attempt: this.#attempt, reason }, ...this.#settle()];
  }

  /** Goes on when the attempt has no live task left: stopped, or (running) finished. */
  #settle(): Actions {
    if (!this.#deployed || !this.#tasks.allEnded) return [];
    if (this.#stopping) {
      this.#stopping = false;
      return this.#afterStop();
    }
    if (this.#state === JobState.RUNNING && this.#tasks.allFinished)
      return this.#end(JobState.FINISHED);
    return [];
  }

  /** The attempt stopped: restart, end, or redeploy, by why it was stopped. */
  #afterStop(): Actions {
    switch (this.#state) {
      case JobState.FAILING: {
        const { error, restartable } = this.#failure!;
        this.#failure = undefined;
        const decision = restartable
          ? this.#policy.onFailure(this.#now())
          : { restart: false, delayMs: 0, reason: "not restartable" };
        if (!decision.restart)
          return this.#end(JobState.FAILED, withReason(error, decision.reason));
        return [
          ...this.#setState(JobState.RESTARTING, error.message),
          { kind: "schedule-restart", attempt: this.#attempt, delayMs: decision.delayMs },
        ];
      }
      case JobState.CANCELING:
        return this.#end(this.#canceledEnd());
      case JobState.RESTARTING:
        return this.#deployOrWait("rescaled");
      default:
        return [];
    }
  }

  /** A cancel ends canceled, a stop whose savepoint completed ends finished. */
  #canceledEnd(): JobEnd {
    return this.#savepoint ? JobState.FINISHED : JobState.CANCELED;
  }

  #end(state: JobEnd, error?: FlotillaError): Actions {
    if (isJobEnd(this.#state) || this.#state === JobState.SUSPENDED) return [];
    this.#stopping = false;
    this.#rescale = undefined;
    if (error && state === JobState.FAILED) this.#endError = error;
    const outcome: JobOutcome<FlotillaError> = {
      state,
      ...(error && state === JobState.FAILED ? { error } : {}),
      restarts: this.#restarts,
      rescales: this.#rescales,
      checkpoints: this.#checkpoints,
      ...(this.#savepoint ? { savepoint: this.#savepoint } : {}),
    };
    return [...this.#setState(state, error?.message), { kind: "end", outcome }];
  }
}

/** The error a job fails with: the attempt's, with why it was not restarted. */
function withReason(error: FlotillaError, reason: string | undefined): FlotillaError {
  return new FlotillaError(error.code, `${error.message} (${reason ?? "no restart"})`, {
    cause: error,
  });
}
