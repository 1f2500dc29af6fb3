/**
 * Carries out the job lifecycle's actions for one JobManager, in an exhaustive switch: declare
 * and wait for slots, deploy an attempt on the pool's slots, cancel its tasks, restart timers,
 * the stop's savepoint and the rescale's checkpoint, release at the end. What an action leads
 * to goes back to the lifecycle as an event; the decisions are all the lifecycle's.
 */
import {
  ErrorCode,
  FlotillaError,
  isJobEnd,
  JobState,
  type Logger,
  snapshotPrefix,
  TaskState,
  toFlotillaError,
} from "../core/mod.ts";
import {
  type CheckpointCoordinator,
  type JobLifecycle,
  type JobLifecycleAction,
  type JobLifecycleActionOf,
  type JobTopology,
  type JobOutcome as LifecycleOutcome,
  taskKey,
} from "../dataflow/internal_mod.ts";
import type { TaskStateReport } from "../protocol/mod.ts";
import { Attempt, type DeploymentBase } from "./attempt.ts";
import type { JobManagerEffects } from "./effects.ts";
import { failureSite, type JobHistory } from "./job_history.ts";
import type { Rescaler } from "./rescaler.ts";
import type { SlotPool } from "./slot_pool.ts";

/** A rescale waits at most this long for its checkpoint, then restores the latest one. */
const RESCALE_CHECKPOINT_MS = 10_000;

export interface LifecycleEffectsOptions {
  log: Logger;
  lifecycle: JobLifecycle;
  pool: SlotPool;
  coordinator: CheckpointCoordinator;
  /** Where failures, states and restores are recorded. */
  history: JobHistory;
  effects: JobManagerEffects;
  /** The adaptive scheduler, when the job runs with it. */
  rescaler?: Rescaler;
  /** Reactive mode waits for slots as long as it takes. */
  reactive: boolean;
  graph: JobTopology;
  /** What every task descriptor carries (the adaptive parallelism is added per attempt). */
  deployment: Omit<DeploymentBase, "vertexParallelism">;
  slotRequestTimeoutMs: number;
  taskCancellationTimeoutMs: number;
  /** The job ended: its slots are back and its requirements cleared. */
  ended(outcome: LifecycleOutcome<FlotillaError>): void;
  /** False once the Dispatcher's term is over: only the suspension is still carried out. */
  leading(): boolean;
}

type Timer = ReturnType<typeof setTimeout>;

export class LifecycleEffects {
  readonly #o: LifecycleEffectsOptions;
  /** The current attempt's graph (its parallelism changes with the adaptive scheduler). */
  graph: JobTopology;
  /** The current (or last) attempt as deployed; undefined before the first. */
  current: Attempt | undefined;
  /** Why the job is not running yet, shown in its details while created. */
  waitingFor = "";
  /** Whether the ResourceManager answered the first declaration. */
  firstDeclaration: Promise<boolean> | undefined;
  readonly #queue: JobLifecycleAction[] = [];
  #draining = false;
  readonly #timers = new Set<Timer>();
  #slotTimer: Timer | undefined;
  #cancelTimer: Timer | undefined;
  #declareRetry: Timer | undefined;
  #stopCaller: ((error: FlotillaError) => void) | undefined;

  constructor(options: LifecycleEffectsOptions) {
    this.#o = options;
    this.graph = options.graph;
  }

  /**
   * Carries `actions` out in order. An action that leads to an event queues that event's actions
   * behind the rest, so they never run inside the switch.
   */
  run(actions: readonly JobLifecycleAction[]): void {
    // A deposed JobManager does not act, whatever a timer or a late answer led to; it only
    // quiets down when its Dispatcher suspends it.
    this.#queue.push(...(this.#o.leading() ? actions : actions.filter(isSuspension)));
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let action = this.#queue.shift(); action; action = this.#queue.shift())
        this.#carryOut(action);
    } finally {
      this.#draining = false;
    }
  }

  /** Where a stop-with-savepoint's failure goes (its caller), until the next stop. */
  onStopFailed(reject: (error: FlotillaError) => void): void {
    this.#stopCaller = reject;
  }

  #carryOut(action: JobLifecycleAction): void {
    const { log, lifecycle } = this.#o;
    this.#o.history.observe(action, lifecycle);
    switch (action.kind) {
      case "state":
        log.info({ from: action.from, to: action.to, why: action.why }, "job state");
        return;
      case "await-resources":
        this.#awaitResources();
        return;
      case "deploy":
        this.#deploy(action);
        return;
      case "stop-attempt":
        this.#stopAttempt(action);
        return;
      case "schedule-restart":
        this.#clearCancelTimer();
        log.warn({ delayMs: action.delayMs }, "job attempt failed: restarting");
        this.#later(action.delayMs, () => this.run(lifecycle.restartDelayElapsed(action.attempt)));
        return;
      case "trigger-savepoint":
        this.#o.coordinator.triggerSavepoint().then(
          (cp) =>
            this.run(lifecycle.savepointCompleted(snapshotPrefix(cp.jobId, cp.checkpointId, true))),
          (err: unknown) => this.run(lifecycle.savepointFailed(toFlotillaError(err))),
        );
        return;
      case "trigger-checkpoint":
        void this.#rescaleCheckpoint(action.attempt);
        return;
      case "stop-failed":
        this.#stopCaller?.(action.error);
        this.#stopCaller = undefined;
        return;
      case "end":
        void this.#end(action.outcome);
        return;
      case "suspend":
        this.quiesce(
          "the JobManager is suspended: its Dispatcher no longer leads, the next leader's JobManager checkpoints the job",
        );
        return;
      default: {
        const unknown: never = action;
        throw new Error(`unknown lifecycle action ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Declares the pool's requirements. The ResourceManager may not be elected yet (at start, or
   * after a failover): one that does not answer is asked again (200 ms doubling to 2 s) until
   * it does or the job ended; waiting for slots is bounded by the slot-request timeout anyway.
   * Resolves whether this declaration was answered.
   */
  async declare(wait = 200): Promise<boolean> {
    clearTimeout(this.#declareRetry);
    this.#declareRetry = undefined;
    try {
      await this.#o.effects.declare(this.#o.pool.requirements());
      return true;
    } catch (err) {
      this.#o.log.debug({ err: (err as Error).message }, "declaring requirements failed");
      if (!this.#done())
        this.#declareRetry = this.#later(wait, () => void this.declare(Math.min(wait * 2, 2000)));
      return false;
    }
  }

  /** A subtask's report (or a failure no task reported, as one): the view and the lifecycle. */
  taskReported(report: TaskStateReport): void {
    const attempt = this.current;
    if (report.attempt !== attempt?.number) return;
    const { vertexId, subtask, state, metrics } = report;
    if (!attempt.report(vertexId, subtask, state, metrics)) return;
    const error =
      state === TaskState.FAILED
        ? new FlotillaError(
            errorCodeOf(report.error?.code),
            `${vertexId}#${subtask}: ${report.error?.message ?? "failed"}`,
          )
        : undefined;
    const task =
      error && attempt.tasks().find((t) => t.vertexId === vertexId && t.subtask === subtask);
    if (error) this.#o.history.failed(attempt.number, error, task && failureSite(this.graph, task));
    this.run(
      this.#o.lifecycle.taskStateChanged(attempt.number, taskKey(vertexId, subtask), state, error),
    );
  }

  /** Stops every timer and the coordinator: nothing acts for the job by itself any more. */
  quiesce(why?: string): void {
    this.#disarmSlotTimer();
    this.#clearCancelTimer();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#o.rescaler?.stop();
    this.#o.coordinator.detach(why);
  }

  #awaitResources(): void {
    const { lifecycle, rescaler, reactive, slotRequestTimeoutMs } = this.#o;
    this.#clearCancelTimer();
    if (!(rescaler && reactive))
      this.#slotTimer ??= setTimeout(() => {
        this.#slotTimer = undefined;
        const why = this.waitingFor ? `: ${this.waitingFor}` : "";
        const message = `slots not available within ${slotRequestTimeoutMs} ms${why}`;
        this.run(lifecycle.resourcesTimedOut(new FlotillaError(ErrorCode.NO_RESOURCES, message)));
      }, slotRequestTimeoutMs);
    const declared = this.declare();
    this.firstDeclaration ??= declared;
    rescaler?.resume();
  }

  #deploy({ attempt: number, parallelism }: JobLifecycleActionOf<"deploy">): void {
    const { lifecycle, pool, coordinator, effects, rescaler, log } = this.#o;
    this.#disarmSlotTimer();
    this.#clearCancelTimer();
    this.waitingFor = "";
    if (rescaler && parallelism) {
      const graph = rescaler.graphAt(parallelism);
      if (graph !== this.graph) coordinator.rebind(graph);
      this.graph = graph;
      rescaler.deployed(parallelism);
      // Slots above the largest upper bound go back, so idle TaskManagers can be released.
      for (const slot of pool.surplus()) {
        pool.remove(slot.slotId);
        void effects.freeSlot(slot);
      }
    }
    let attempt: Attempt;
    try {
      attempt = new Attempt(number, this.graph, pool);
    } catch (err) {
      const why = `cannot place attempt ${number}: ${(err as Error).message}`;
      this.run(lifecycle.attemptFailed(number, new FlotillaError(ErrorCode.NO_RESOURCES, why)));
      return;
    }
    this.current = attempt;
    coordinator.attach({
      trigger: (id, final) => {
        for (const tm of attempt.sourceTaskManagers())
          effects.triggerCheckpoint(tm, id, number, final).catch((err: Error) => {
            if (!this.#o.leading()) return; // its term is over: the next leader checkpoints
            // A source without the trigger sends no barrier: abort now, not at the timeout.
            log.warn({ err: err.message, checkpoint: id }, "trigger failed");
            coordinator.abort(id, `the trigger to ${tm} failed: ${err.message}`);
          });
      },
      fail: (reason) =>
        this.run(lifecycle.attemptFailed(number, new FlotillaError(ErrorCode.TIMEOUT, reason))),
      // Best effort; a failure in a term that is over (a leader woke up deposed) is no news.
      notify: async (id) => {
        const failed = (err: Error) => {
          if (this.#o.leading()) log.warn({ err: err.message, checkpoint: id }, "notify failed");
        };
        await Promise.all(
          attempt.taskManagers().map((tm) => effects.confirmCheckpoint(tm, id).catch(failed)),
        );
      },
    });
    const base: DeploymentBase = {
      ...this.#o.deployment,
      ...(rescaler?.vertexParallelism ? { vertexParallelism: rescaler.vertexParallelism } : {}),
    };
    if (coordinator.latest) this.#o.history.restored(coordinator.latest);
    for (const { slot, descriptor } of attempt.descriptors(base, coordinator.latest)) {
      effects.deploy(slot.tmSubject, descriptor).catch((err: unknown) => {
        const { code, message } = toFlotillaError(err);
        // The TaskManager no longer holds the slot for this job (freed, or given to another
        // job): the restart must not deploy on it again, but ask the RM for another.
        if (code === ErrorCode.CONFLICT && pool.holds(slot)) {
          log.warn(
            { tm: slot.tmId, slot: slot.slotId },
            "the TaskManager does not hold this slot for the job: dropping it",
          );
          pool.remove(slot.slotId);
          lifecycle.resourcesLost();
        }
        const { vertexId, subtask } = descriptor;
        const failed = { code, message: `deployment failed: ${message}` };
        this.taskReported({
          attempt: number,
          vertexId,
          subtask,
          state: TaskState.FAILED,
          error: failed,
        });
      });
    }
    // Slots may have come or gone while the attempt was prepared: the scheduler looks again.
    rescaler?.slotsChanged();
  }

  #stopAttempt({ attempt: number, reason }: JobLifecycleActionOf<"stop-attempt">): void {
    const { coordinator, effects, lifecycle, log, taskCancellationTimeoutMs } = this.#o;
    coordinator.detach();
    const attempt = this.current;
    if (attempt?.number !== number) {
      this.run(lifecycle.attemptStopped(number)); // it was never placed: nothing to stop
      return;
    }
    const live = attempt.live();
    if (live.length === 0) return; // the lifecycle saw them all end already
    log.info({ attempt: number, tasks: live.length, reason }, "stopping the attempt");
    for (const tm of attempt.taskManagers(live)) void effects.cancelTasks(tm, number);
    this.#cancelTimer = setTimeout(() => {
      this.#cancelTimer = undefined;
      log.warn(
        { attempt: number, live: attempt.live().length },
        `tasks did not report they stopped within task.cancellation.timeout (${taskCancellationTimeoutMs} ms): going on without them`,
      );
      this.run(lifecycle.attemptStopped(number));
    }, taskCancellationTimeoutMs);
  }

  async #rescaleCheckpoint(number: number): Promise<void> {
    const { coordinator, lifecycle, log } = this.#o;
    const limit = Math.min(
      this.graph.options.checkpointing?.timeoutMs ?? 60_000,
      RESCALE_CHECKPOINT_MS,
    );
    let timer: Timer | undefined;
    try {
      await Promise.race([
        coordinator.triggerCheckpoint(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no checkpoint within ${limit} ms`)), limit);
        }),
      ]);
    } catch (err) {
      if (lifecycle.state === JobState.RUNNING && !coordinator.finishing)
        log.warn(
          { err: (err as Error).message, checkpoint: coordinator.latest?.checkpointId },
          "rescale checkpoint failed: restoring the latest completed one",
        );
    } finally {
      clearTimeout(timer);
    }
    // The input ended meanwhile: the final checkpoint is due, the attempt finishes as it is.
    this.run(lifecycle.rescaleCheckpointDone(number, { proceed: !coordinator.finishing }));
  }

  async #end(outcome: LifecycleOutcome<FlotillaError>): Promise<void> {
    const { pool, effects } = this.#o;
    this.quiesce();
    clearTimeout(this.#declareRetry);
    const held = pool.clear();
    // The requirements go first: slots freed while the ResourceManager still holds them would
    // match them again, be allocated to this ended job and refused (churn another job waits on).
    const cleared = effects.clearRequirements();
    await Promise.all(held.map((slot) => effects.freeSlot(slot)));
    await cleared;
    this.#o.ended(outcome);
  }

  #done(): boolean {
    const state = this.#o.lifecycle.state;
    return isJobEnd(state) || state === JobState.SUSPENDED;
  }

  #later(ms: number, fn: () => void): Timer {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #disarmSlotTimer(): void {
    clearTimeout(this.#slotTimer);
    this.#slotTimer = undefined;
  }

  #clearCancelTimer(): void {
    clearTimeout(this.#cancelTimer);
    this.#cancelTimer = undefined;
  }
}

/** What a deposed JobManager still carries out: its suspension (and the state saying so). */
function isSuspension(action: JobLifecycleAction): boolean {
  return action.kind === "suspend" || (action.kind === "state" && action.to === JobState.SUSPENDED);
}

/** A task's error code as it came over the wire, if flotilla knows it. */
function errorCodeOf(code: string | undefined): ErrorCode {
  return (Object.values(ErrorCode) as string[]).includes(code ?? "")
    ? (code as ErrorCode)
    : ErrorCode.INTERNAL;
}
