/**
 * The JobManager of one job: declares the slots the job needs to the ResourceManager, takes the
 * TaskManagers' offers, deploys every subtask, follows task states into the job state, restarts
 * by strategy from the latest checkpoint, coordinates checkpoints and savepoints, and releases
 * its slots when the job ends. With the adaptive scheduler it runs with the slots there are and
 * rescales (checkpoint, cancel, redeploy at the new parallelism) as they change.
 */
import {
  ErrorCode,
  FlotillaError,
  type JobEnd,
  JobState,
  type SlotId,
  silentLogger,
  subjects,
  type TaskManagerId,
  TaskState,
  toFlotillaError,
} from "../core/mod.ts";
import {
  CheckpointCoordinator,
  CommittedResults,
  restartPolicy,
} from "../dataflow/internal_mod.ts";
import type {
  CollectedResults,
  JobOutcome,
  JobStatus,
  ResourceRequirements,
  SlotOffer,
  TaskMetricsReport,
  TaskStateReport,
} from "../protocol/mod.ts";
import { compileScheduler } from "./adaptive.ts";
import { Attempt, vertexDetails } from "./attempt.ts";
import { JobManagerEffects } from "./effects.ts";
import { DEFAULT_TASK_CANCELLATION_TIMEOUT_MS, type JobManagerOptions } from "./options.ts";
import { createRescaler, type Rescaler } from "./rescaler.ts";
import { requirementsView } from "./resource_requirements.ts";
import { SlotPool } from "./slot_pool.ts";

/** States a JobManager never leaves; suspended ends this JobManager, not the job. */
const TERMINAL = new Set<JobState>([
  JobState.FINISHED,
  JobState.CANCELED,
  JobState.FAILED,
  JobState.SUSPENDED,
]);

/** A task's error code as it came over the wire, if flotilla knows it. */
const errorCodeOf = (code: string | undefined): ErrorCode =>
  (Object.values(ErrorCode) as string[]).includes(code ?? "")
    ? (code as ErrorCode)
    : ErrorCode.INTERNAL;

export function createJobMaster(options: JobManagerOptions) {
  const {
    clusterId,
    jobId,
    artifact,
    args = {},
    slotRequestTimeoutMs = 300_000,
    taskCancellationTimeoutMs = DEFAULT_TASK_CANCELLATION_TIMEOUT_MS,
  } = options;
  const log = (options.log ?? silentLogger).child({ role: "jobmanager", job: jobId });
  const subject = subjects.jobManager(clusterId, jobId);
  const effects = new JobManagerEffects({
    jobId,
    subject,
    rmSubject: subjects.resourceManager(clusterId),
    transportFor: options.transportFor,
    rpc: options.rpc,
    log,
  });
  let graph = options.graph;
  const pool = new SlotPool(graph);
  const policy = restartPolicy(graph.options.restartStrategy);
  const scheduler = compileScheduler(options.scheduler, graph.options.scheduler);
  if (scheduler.type === "adaptive" && !options.rebuild)
    log.warn(
      "adaptive scheduling needs the job definition to rebuild its graph: default scheduler",
    );
  const coordinator = new CheckpointCoordinator({
    jobId,
    graph,
    store: options.snapshots,
    log,
    ...(options.restoreFrom ? { restoredFrom: options.restoreFrom } : {}),
    ...(options.onCheckpoint ? { onCompleted: options.onCheckpoint } : {}),
  });
  const committed = new CommittedResults();
  const rescaler: Rescaler | undefined =
    scheduler.type === "adaptive" && options.rebuild
      ? createRescaler({
          host: {
            log,
            pool,
            coordinator,
            status: () => status,
            setStatus,
            stopAttempt,
            deploy(g) {
              graph = g;
              coordinator.rebind(g);
              waitingFor = "";
              deployAttempt();
            },
            freeSlot: (slot) => effects.freeSlot(slot),
            declare: () => void declare(),
            waiting(why) {
              waitingFor ||= why;
            },
          },
          graph: options.graph,
          rebuild: options.rebuild,
          scheduler,
          ...(options.resourceRequirements ? { initial: options.resourceRequirements } : {}),
          ...(options.clock ? { clock: options.clock } : {}),
        })
      : undefined;
  let status: JobState = JobState.CREATED;
  /** The current attempt's number: the next attempt deploys one above it. */
  let attemptNumber = (options.firstAttempt ?? 0) - 1;
  let current: Attempt | undefined;
  let restarts = 0;
  let waitingFor = "";
  let slotTimer: ReturnType<typeof setTimeout> | undefined;
  /** The restart delay, or the next try of a declaration the RM did not answer. */
  const timers = new Set<ReturnType<typeof setTimeout>>();
  /** Wakes whoever waits for the current attempt's tasks to stop. */
  const settleWaiters = new Set<() => void>();
  let stopping = false;
  let stopSavepoint: string | undefined;
  let resolveOutcome!: (o: JobOutcome) => void;
  const outcome = new Promise<JobOutcome>((r) => {
    resolveOutcome = r;
  });

  function later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  function setStatus(next: JobState, why?: string): void {
    if (status === next) return;
    log.info({ from: status, to: next, why }, "job state");
    status = next;
  }

  /** The job waits for slots: from now on for at most `slotRequestTimeoutMs` (reactive: ever). */
  function armSlotTimeout(): void {
    if (rescaler && scheduler.reactive) return;
    slotTimer ??= setTimeout(() => {
      slotTimer = undefined;
      const runnable = rescaler ? status !== JobState.CREATED : pool.complete();
      if (runnable || TERMINAL.has(status)) return;
      const why = waitingFor ? `: ${waitingFor}` : "";
      const error = `slots not available within ${slotRequestTimeoutMs} ms${why}`;
      void fail(new FlotillaError(ErrorCode.NO_RESOURCES, error), false);
    }, slotRequestTimeoutMs);
  }

  function disarmSlotTimeout(): void {
    clearTimeout(slotTimer);
    slotTimer = undefined;
  }

  /**
   * Declares the pool's requirements. The ResourceManager may not be elected yet (at start, or
   * after a failover): a declaration it did not answer is tried again (200 ms doubling to 2 s)
   * while the job waits, bounded by the slot timeout. Resolves whether this one was answered.
   */
  async function declare(wait = 200): Promise<boolean> {
    armSlotTimeout();
    try {
      await effects.declare(pool.requirements());
      return true;
    } catch (err) {
      log.debug({ err: (err as Error).message }, "declaring requirements failed; retrying");
      later(wait, () => {
        if (!TERMINAL.has(status)) void declare(Math.min(wait * 2, 2000));
      });
      return false;
    }
  }

  function deployAttempt(): void {
    // A rescale or restart finishing after a suspension deploys nothing.
    if (TERMINAL.has(status)) return;
    disarmSlotTimeout();
    attemptNumber++;
    const attempt = new Attempt(attemptNumber, graph, pool);
    current = attempt;
    coordinator.attach({
      trigger: (id, final) => {
        for (const tm of attempt.sourceTaskManagers())
          effects.triggerCheckpoint(tm, id, attempt.number, final).catch((err: Error) => {
            // A source that never got the trigger never sends its barrier: abort now rather
            // than at the checkpoint timeout, so the next checkpoint can start.
            log.warn({ err: err.message, checkpoint: id }, "trigger failed");
            coordinator.abort(id, `the trigger to ${tm} failed: ${err.message}`);
          });
      },
      fail: (reason) => void fail(new FlotillaError(ErrorCode.TIMEOUT, reason), true),
      notify: async (id) => {
        await Promise.all(attempt.taskManagers().map((tm) => effects.confirmCheckpoint(tm, id)));
      },
    });
    setStatus(JobState.RUNNING);
    const base = {
      jobId,
      jmSubject: subject,
      artifact,
      args,
      ...(options.parallelism ? { parallelism: options.parallelism } : {}),
      ...(rescaler?.vertexParallelism ? { vertexParallelism: rescaler.vertexParallelism } : {}),
    };
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
        }
        onTaskReport({
          attempt: attempt.number,
          vertexId: descriptor.vertexId,
          subtask: descriptor.subtask,
          state: TaskState.FAILED,
          error: { code, message: `deployment failed: ${message}` },
        });
      });
    }
  }

  function onTaskReport(report: TaskStateReport): void {
    const attempt = current;
    if (report.attempt !== attempt?.number) return;
    if (!attempt.report(report.vertexId, report.subtask, report.state, report.metrics)) return;
    if (report.state === TaskState.FAILED) {
      const why = `${report.vertexId}#${report.subtask}: ${report.error?.message ?? "failed"}`;
      void fail(new FlotillaError(errorCodeOf(report.error?.code), why), true);
    }
    if (attempt.allEnded()) settled();
    if (status === JobState.RUNNING && attempt.allFinished()) void end(JobState.FINISHED);
  }

  function settled(): void {
    for (const wake of settleWaiters) wake();
    settleWaiters.clear();
  }

  /** Cancels every task of the current attempt and waits until they all stopped (or gave up on). */
  async function stopAttempt(): Promise<void> {
    coordinator.detach();
    const attempt = current;
    const live = attempt?.live() ?? [];
    if (!attempt || live.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = new Promise<boolean>((resolve) => {
      settleWaiters.add(() => resolve(true));
      timer = setTimeout(() => resolve(false), taskCancellationTimeoutMs);
    });
    await Promise.all(
      attempt.taskManagers(live).map((tm) => effects.cancelTasks(tm, attempt.number)),
    );
    if (!(await stopped))
      log.warn(
        { attempt: attempt.number, live: attempt.live().length },
        `tasks did not report they stopped within task.cancellation.timeout (${taskCancellationTimeoutMs} ms): going on without them`,
      );
    clearTimeout(timer);
  }

  async function fail(error: FlotillaError, restartable: boolean): Promise<void> {
    if (status !== JobState.RUNNING && status !== JobState.CREATED) return;
    setStatus(JobState.FAILING, error.message);
    await stopAttempt();
    if ((status as JobState) !== JobState.FAILING) return; // a cancel took over
    const decision = restartable
      ? policy.onFailure(Date.now())
      : { restart: false, delayMs: 0, reason: "not restartable" };
    if (!decision.restart) {
      const why = `${error.message} (${decision.reason})`;
      await end(JobState.FAILED, new FlotillaError(error.code, why));
      return;
    }
    setStatus(JobState.RESTARTING, error.message);
    later(decision.delayMs, restart);
  }

  function restart(): void {
    // A cancel during the delay wins.
    if (status !== JobState.RESTARTING) return;
    restarts++;
    if (!rescaler && pool.complete()) {
      deployAttempt();
      return;
    }
    setStatus(JobState.CREATED, "waiting for slots");
    void declare().then(() => rescaler?.restart());
  }

  async function end(state: JobEnd, error?: FlotillaError): Promise<void> {
    if (TERMINAL.has(status)) return;
    quiesce();
    const final = stopSavepoint ? JobState.FINISHED : state;
    setStatus(final, error?.message);
    await Promise.all(pool.clear().map((slot) => effects.freeSlot(slot)));
    await effects.clearRequirements();
    resolveOutcome({
      jobId,
      state: final,
      ...(error && final === JobState.FAILED
        ? { error: { code: error.code, message: error.message } }
        : {}),
      restarts,
      rescales: rescaler?.rescales ?? 0,
      checkpoints: coordinator.completed,
      ...(stopSavepoint ? { savepoint: stopSavepoint } : {}),
    });
  }

  /** Stops every timer and the coordinator: nothing acts for the job by itself any more. */
  function quiesce(): void {
    disarmSlotTimeout();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    rescaler?.stop();
    coordinator.detach();
  }

  async function cancel(): Promise<JobOutcome> {
    if (!TERMINAL.has(status) && status !== JobState.CANCELING) {
      setStatus(JobState.CANCELING);
      await stopAttempt();
      await end(JobState.CANCELED);
    }
    return outcome;
  }

  async function savepoint(): Promise<string> {
    if (status !== JobState.RUNNING)
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `job ${jobId} is ${status}: savepoints need a running job`,
      );
    const cp = await coordinator.triggerSavepoint();
    return `savepoints/${cp.jobId}/${cp.checkpointId}`;
  }

  return {
    jobId,
    subject,
    /** The current attempt's graph (its parallelism changes with the adaptive scheduler). */
    get graph() {
      return graph;
    },
    /** The job's end; a suspended JobManager never has one (the job goes on elsewhere). */
    outcome,
    status: (): JobState => status,
    /** Whether this JobManager is done with the job: it ended, or was suspended. */
    ended: (): boolean => TERMINAL.has(status),
    /** What the job's collect sinks committed so far. */
    results: (): CollectedResults => committed.bySink,
    /** Declares the job's requirements; resolves whether the first declaration was answered. */
    start: (): Promise<boolean> => declare(),
    /** Takes the offered slots a group still needs; the slots the job holds of the offer. */
    offer({ tmId, tmSubject, slots }: SlotOffer): SlotId[] {
      if (TERMINAL.has(status) || status === JobState.CANCELING) return [];
      const held = new Set(pool.all().map((s) => s.slotId));
      const accepted = slots
        .filter((s) => pool.offer({ ...s, tmId, tmSubject }))
        .map((s) => s.slotId);
      // A slot offered again (the RM matching again after a loss) is no news.
      const added = accepted.filter((id) => !held.has(id)).length;
      if (rescaler) {
        if (added > 0)
          rescaler.slotsChanged(
            `${tmId} offered ${added === 1 ? "a slot" : `${added} slots`} (${pool.all().length} in all)`,
          );
      } else if (pool.complete() && status === JobState.CREATED) deployAttempt();
      return accepted;
    },
    onTaskReport,
    /** Running tasks' counters between state reports (records in/out for status and the CLI). */
    onTaskMetrics(report: TaskMetricsReport): void {
      if (report.attempt !== current?.number) return;
      for (const { vertexId, subtask, metrics } of report.tasks)
        current.updateMetrics(vertexId, subtask, metrics);
    },
    /** The checkpoint callbacks of one subtask of the current attempt; none for another attempt. */
    checkpointing: (report: { attempt: number; vertexId: string; subtask: number }) =>
      report.attempt === current?.number
        ? coordinator.forTask(report.vertexId, report.subtask)
        : undefined,
    addResults: (sinkId: string, values: unknown[], batchId?: string): void =>
      committed.add(sinkId, values, batchId),
    resourcesUnavailable(missing: { profile: unknown; count: number }[]): void {
      waitingFor = `the ResourceManager cannot provide ${missing.map((m) => `${m.count} x ${JSON.stringify(m.profile)}`).join(", ")}`;
      // Adaptive jobs ask for their upper bound and run with less: that is no news.
      if (rescaler) log.debug({ missing }, "resources unavailable; running with what there is");
      else log.warn({ missing }, "resources unavailable; waiting");
    },
    taskManagerLost(tmId: TaskManagerId, reason: string): void {
      const lost = pool.removeTaskManager(tmId);
      if (lost.length === 0) return;
      effects.forget(lost[0]!.tmSubject);
      log.warn({ tm: tmId, slots: lost.length, reason }, "TaskManager lost");
      const hit = current?.failTaskManager(tmId) ?? false;
      // A stop already waiting for these tasks' last reports waits no longer: none will come.
      if (current?.allEnded()) settled();
      if (hit || status === JobState.RUNNING)
        void fail(new FlotillaError(ErrorCode.UNAVAILABLE, `TaskManager ${tmId} was lost`), true);
      // After fail() the job is failing: the rescaler notes why and acts when it restarts.
      rescaler?.slotsChanged(`TaskManager ${tmId} lost (${lost.length} slots)`);
    },
    /** The parallelism bounds per vertex (Flink's `GET /jobs/:id/resource-requirements`). */
    resourceRequirements(): ResourceRequirements {
      return rescaler?.requirements() ?? requirementsView(graph);
    },
    /**
     * New bounds (Flink's `PUT /jobs/:id/resource-requirements`): declared to the RM at once; the
     * job rescales when it runs outside them, or below an upper bound the slots now allow.
     */
    async setResourceRequirements(body: ResourceRequirements): Promise<ResourceRequirements> {
      if (!rescaler)
        throw new FlotillaError(
          ErrorCode.CONFLICT,
          `job ${jobId} runs with the default scheduler: changing its parallelism needs scheduler "adaptive" (job option, or jobmanager.scheduler)`,
        );
      if (TERMINAL.has(status) || status === JobState.CANCELING)
        throw new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} is ${status}`);
      const view = rescaler.setRequirements(body);
      await options.onResourceRequirements?.(view);
      return view;
    },
    info(): JobStatus {
      const latest = coordinator.latest;
      return {
        jobId,
        name: graph.options.name,
        state: status,
        attempt: attemptNumber,
        restarts,
        scheduler: rescaler ? (scheduler.reactive ? "reactive" : "adaptive") : "default",
        rescales: rescaler?.rescales ?? 0,
        ...(rescaler ? { parallelismBounds: rescaler.bounds } : {}),
        checkpoints: coordinator.completed,
        ...(latest
          ? { lastCheckpoint: { id: latest.checkpointId, timestamp: latest.timestamp } }
          : {}),
        ...(waitingFor && status === JobState.CREATED ? { waitingFor } : {}),
        vertices: vertexDetails(graph, current?.tasks() ?? [], rescaler?.requirements()),
      };
    },
    /**
     * Leadership lost (Flink's JobMaster suspend): stops acting for the job at once, without
     * canceling its tasks, freeing its slots or producing an outcome. The job is not over: the
     * next leader's JobManager recovers it from the latest checkpoint, and the TaskManagers give
     * it their slots.
     */
    suspend(): void {
      if (TERMINAL.has(status)) return;
      setStatus(JobState.SUSPENDED, "leadership lost");
      quiesce();
      settled();
    },
    /** Cancels the job; resolves with its outcome once its tasks stopped and its slots went back. */
    cancel,
    /** 409 CONFLICT unless the job runs. */
    savepoint,
    /**
     * Stop-with-savepoint: takes a savepoint, then cancels; the job ends finished with it. 409
     * CONFLICT unless the job runs, or when a stop is under way already.
     */
    async stop(): Promise<JobOutcome> {
      if (stopping) throw new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} is stopping already`);
      stopping = true;
      try {
        stopSavepoint = await savepoint();
      } finally {
        stopping = false;
      }
      return await cancel();
    },
  };
}

export type JobMaster = ReturnType<typeof createJobMaster>;
