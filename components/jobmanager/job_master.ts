/**
 * The JobManager of one job: declares the slots the job needs to the ResourceManager, takes the
 * TaskManagers' offers, deploys every subtask, follows task states, restarts by strategy from the
 * latest checkpoint, coordinates checkpoints and savepoints, and releases its slots when the job
 * ends. Its lifecycle decisions are the shared `JobLifecycle`'s (components/dataflow/lifecycle);
 * `LifecycleEffects` carries them out. With the adaptive scheduler it runs with the slots there
 * are and rescales as they change.
 */
import {
  type AllocationId,
  ErrorCode,
  FlotillaError,
  isJobEnd,
  JobState,
  type SlotId,
  silentLogger,
  snapshotPrefix,
  subjects,
  type TaskManagerId,
  TaskState,
} from "../core/mod.ts";
import {
  CheckpointCoordinator,
  CommittedResults,
  JobLifecycle,
  type JobTopology,
  type Parallelism,
  restartPolicy,
  taskKey,
} from "../dataflow/internal_mod.ts";
import type {
  CheckpointStatistics,
  CollectedResults,
  ExceptionsQuery,
  JobExceptions,
  JobHistoryArchive,
  JobOutcome,
  JobStatus,
  ResourceRequirements,
  SlotOffer,
  TaskCheckpointWithSubtasks,
  TaskMetricsReport,
  TaskStateReport,
} from "../protocol/mod.ts";
import { compileScheduler } from "./adaptive.ts";
import { vertexDetails } from "./attempt.ts";
import { JobManagerEffects } from "./effects.ts";
import { failureSite, JobHistory } from "./job_history.ts";
import { LifecycleEffects } from "./lifecycle_effects.ts";
import { confirmedSlots, type OfferedSlot } from "./offer_check.ts";
import { DEFAULT_TASK_CANCELLATION_TIMEOUT_MS, type JobManagerOptions } from "./options.ts";
import { createRescaler, type Rescaler } from "./rescaler.ts";
import { requirementsView } from "./resource_requirements.ts";
import { SlotPool } from "./slot_pool.ts";

export function createJobMaster(options: JobManagerOptions) {
  const { clusterId, jobId, graph: submitted } = options;
  const log = (options.log ?? silentLogger).child({ role: "jobmanager", job: jobId });
  const subject = subjects.jobManager(clusterId, jobId);
  const pool = new SlotPool(submitted);
  const scheduler = compileScheduler(options.scheduler, submitted.options.scheduler);
  if (scheduler.type === "adaptive" && !options.rebuild)
    log.warn(
      "adaptive scheduling needs the job definition to rebuild its graph: default scheduler",
    );
  const graphAt = (p: Parallelism | undefined): JobTopology =>
    p && rescaler ? rescaler.graphAt(p) : submitted;
  const lifecycle = new JobLifecycle(jobId, {
    restartPolicy: restartPolicy(submitted.options.restartStrategy),
    tasksAt: (p) => graphAt(p).vertices.flatMap((v) => tasksOf(v.id, v.parallelism)),
    ...(options.firstAttempt !== undefined ? { firstAttempt: options.firstAttempt } : {}),
  });
  const history = new JobHistory(submitted.options, options.history);
  const coordinator = new CheckpointCoordinator({
    jobId,
    graph: submitted,
    store: options.snapshots,
    log,
    stats: history.checkpoints,
    ...(options.restoreFrom ? { restoredFrom: options.restoreFrom } : {}),
    onCompleted: async (checkpoint) => {
      lifecycle.checkpointCompleted();
      await options.onCheckpoint?.(checkpoint);
    },
  });
  const effects = new JobManagerEffects({
    jobId,
    subject,
    rmSubject: subjects.resourceManager(clusterId),
    transportFor: options.transportFor,
    rpc: options.rpc,
    log,
  });
  const rescaler: Rescaler | undefined =
    scheduler.type === "adaptive" && options.rebuild
      ? createRescaler({
          host: {
            log,
            pool,
            state: () => lifecycle.state,
            ready: (p) => run.run(lifecycle.resourcesReady(p)),
            rescale: (p, why) => run.run(lifecycle.rescale(p, why)),
            declare: () => void run.declare(),
            waiting(why) {
              run.waitingFor ||= why;
            },
          },
          graph: submitted,
          rebuild: options.rebuild,
          scheduler,
          ...(options.resourceRequirements ? { initial: options.resourceRequirements } : {}),
          ...(options.clock ? { clock: options.clock } : {}),
        })
      : undefined;
  const committed = new CommittedResults(
    options.collectMaxRecords ? { maxRecords: options.collectMaxRecords } : {},
  );
  let resolveOutcome!: (o: JobOutcome) => void;
  const outcome = new Promise<JobOutcome>((r) => {
    resolveOutcome = r;
  });
  const run = new LifecycleEffects({
    log,
    lifecycle,
    pool,
    coordinator,
    history,
    effects,
    ...(rescaler ? { rescaler } : {}),
    reactive: scheduler.reactive,
    graph: submitted,
    deployment: {
      jobId,
      jmSubject: subject,
      artifact: options.artifact,
      args: options.args ?? {},
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.parallelism ? { parallelism: options.parallelism } : {}),
    },
    slotRequestTimeoutMs: options.slotRequestTimeoutMs ?? 300_000,
    leading: options.leading ?? (() => true),
    taskCancellationTimeoutMs:
      options.taskCancellationTimeoutMs ?? DEFAULT_TASK_CANCELLATION_TIMEOUT_MS,
    ended: ({ error, ...end }) =>
      resolveOutcome({
        jobId,
        ...end,
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
      }),
  });

  /** Whether this JobManager is done with the job: it ended, or was suspended. */
  const ended = () => isJobEnd(lifecycle.state) || lifecycle.state === JobState.SUSPENDED;
  const refusesSlots = () => ended() || lifecycle.state === JobState.CANCELING;

  function conflict(why: string): FlotillaError {
    return new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} is ${lifecycle.state}: ${why}`);
  }

  /** Takes the slots of `offer` held already or `confirmed` by the RM, as far as a group needs them. */
  function take({ tmId, tmSubject, slots }: SlotOffer, confirmed: Set<OfferedSlot>): SlotId[] {
    const held = new Set(pool.all().map((s) => s.slotId));
    const accepted = slots
      .filter((s) => confirmed.has(s) || pool.isPooled(s))
      .filter((s) => pool.offer({ ...s, tmId, tmSubject }))
      .map((s) => s.slotId);
    // A slot offered again (the RM matching again after a loss) is no news.
    const added = accepted.filter((id) => !held.has(id)).length;
    if (!rescaler) {
      if (pool.complete()) run.run(lifecycle.resourcesReady());
    } else if (added > 0) {
      // A job restarting looks at its slots again before it redeploys.
      if (lifecycle.state !== JobState.RUNNING) lifecycle.resourcesLost();
      const what = added === 1 ? "a slot" : `${added} slots`;
      rescaler.slotsChanged(`${tmId} offered ${what} (${pool.all().length} in all)`);
    }
    return accepted;
  }

  function notKept(checkpointId: number, vertexId?: string): FlotillaError {
    const what = vertexId
      ? `vertex ${vertexId} of checkpoint ${checkpointId}`
      : `checkpoint ${checkpointId}`;
    return new FlotillaError(
      ErrorCode.NOT_FOUND,
      `${what} is not in job ${jobId}'s checkpoint history (the last web.checkpoints.history checkpoints: ${history.checkpoints.keptIds().join(", ") || "none yet"})`,
    );
  }

  const jobMaster = {
    jobId,
    subject,
    /** The current attempt's graph (its parallelism changes with the adaptive scheduler). */
    get graph(): JobTopology {
      return run.graph;
    },
    /** The job's end; a suspended JobManager never has one (the job goes on elsewhere). */
    outcome,
    status: (): JobState => lifecycle.state,
    ended,
    /** What the job's collect sinks committed so far. */
    results: (): CollectedResults => committed.bySink,
    /** Declares the job's requirements; resolves whether the first declaration was answered. */
    start(): Promise<boolean> {
      run.run(lifecycle.start());
      return run.firstDeclaration ?? Promise.resolve(true);
    },
    /**
     * Takes the offered slots a group still needs, a new one only if the ResourceManager confirms
     * it allocated it to this job on that TaskManager and slot; the slots the job holds of the offer.
     * An offer with nothing new to check (a heartbeat's re-offer, slots no group needs) is
     * answered at once, without a call.
     */
    offer(offer: SlotOffer): SlotId[] | Promise<SlotId[]> {
      if (refusesSlots()) return [];
      const candidates = pool.wanted(offer.slots);
      if (candidates.length === 0) return take(offer, new Set());
      const check = { jobId, allocation: (id: AllocationId) => effects.allocation(id), log };
      return confirmedSlots(offer, candidates, check).then((confirmed) =>
        refusesSlots() ? [] : take(offer, confirmed),
      );
    },
    onTaskReport: (report: TaskStateReport): void => run.taskReported(report),
    /** Running tasks' counters between state reports (records in/out for status and the CLI). */
    onTaskMetrics(report: TaskMetricsReport): void {
      const attempt = run.current;
      if (report.attempt !== attempt?.number) return;
      for (const { vertexId, subtask, metrics } of report.tasks)
        attempt.updateMetrics(vertexId, subtask, metrics);
    },
    /** The checkpoint callbacks of one subtask of the current attempt; none for another attempt. */
    checkpointing: (report: { attempt: number; vertexId: string; subtask: number }) =>
      report.attempt === run.current?.number
        ? coordinator.forTask(report.vertexId, report.subtask)
        : undefined,
    addResults(sinkId: string, values: unknown[], batchId?: string): void {
      try {
        committed.add(sinkId, values, batchId);
      } catch (err) {
        // Past collect-sink.max-records: every attempt would hit it again, so no restart.
        const attempt = run.current;
        if (attempt)
          run.run(
            lifecycle.attemptFailed(attempt.number, err as FlotillaError, { restartable: false }),
          );
        throw err;
      }
    },
    resourcesUnavailable(missing: { profile: unknown; count: number }[]): void {
      run.waitingFor = `the ResourceManager cannot provide ${missing.map((m) => `${m.count} x ${JSON.stringify(m.profile)}`).join(", ")}`;
      // Adaptive jobs ask for their upper bound and run with less: that is no news.
      if (rescaler) log.debug({ missing }, "resources unavailable; running with what there is");
      else log.warn({ missing }, "resources unavailable; waiting");
    },
    /** A TaskManager that held slots of this job is gone: its tasks failed, its slots with it. */
    taskManagerLost(tmId: TaskManagerId, reason: string): void {
      const lost = pool.removeTaskManager(tmId);
      if (lost.length === 0) return;
      log.warn({ tm: tmId, slots: lost.length, reason }, "TaskManager lost");
      effects.forget(lost[0]!.tmSubject);
      lifecycle.resourcesLost();
      const attempt = run.current;
      if (attempt) {
        const error = new FlotillaError(ErrorCode.UNAVAILABLE, `TaskManager ${tmId} was lost`);
        const failed = attempt.failTaskManager(tmId);
        if (failed[0]) history.failed(attempt.number, error, failureSite(run.graph, failed[0]));
        // Its tasks send no more reports: they failed with it, and a stop waits no longer.
        for (const t of failed)
          run.run(
            lifecycle.taskStateChanged(
              attempt.number,
              taskKey(t.vertexId, t.subtask),
              TaskState.FAILED,
              error,
            ),
          );
        run.run(lifecycle.attemptFailed(attempt.number, error));
      }
      rescaler?.slotsChanged(`TaskManager ${tmId} lost (${lost.length} slots)`);
    },
    /** The parallelism bounds per vertex (Flink's `GET /jobs/:id/resource-requirements`). */
    resourceRequirements(): ResourceRequirements {
      return rescaler?.requirements() ?? requirementsView(run.graph);
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
      if (ended() || lifecycle.state === JobState.CANCELING)
        throw conflict("its resource requirements no longer change");
      const view = rescaler.setRequirements(body);
      await options.onResourceRequirements?.(view);
      return view;
    },
    info(): JobStatus {
      const latest = coordinator.latest;
      const state = lifecycle.state;
      const failure = lifecycle.failure;
      return {
        jobId,
        name: run.graph.options.name,
        state,
        attempt: lifecycle.attempt,
        restarts: lifecycle.restarts,
        scheduler: rescaler ? (scheduler.reactive ? "reactive" : "adaptive") : "default",
        rescales: lifecycle.rescales,
        ...(rescaler ? { parallelismBounds: rescaler.bounds } : {}),
        checkpoints: coordinator.completed,
        // Why it failed, from the moment it is failed (before its end's effects are done).
        ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
        ...(latest
          ? { lastCheckpoint: { id: latest.checkpointId, timestamp: latest.timestamp } }
          : {}),
        ...(run.waitingFor && state === JobState.CREATED ? { waitingFor: run.waitingFor } : {}),
        timestamps: history.timestamps(),
        vertices: vertexDetails(
          run.graph,
          run.current && { number: run.current.number, tasks: run.current.tasks() },
          rescaler?.requirements(),
        ),
      };
    },
    /** Flink's checkpoint statistics of the job so far. */
    checkpoints: () => history.checkpoints.statistics(),
    /** 404 NOT_FOUND without checkpointing. */
    checkpointConfig: () => history.checkpointConfig(),
    /** A kept checkpoint with its per-vertex tasks; 404 NOT_FOUND for one not (or no longer) kept. */
    checkpointDetails(checkpointId: number): CheckpointStatistics {
      const details = history.checkpoints.details(checkpointId);
      if (!details) throw notKept(checkpointId);
      return details;
    },
    /** One vertex's subtasks (hex or flotilla vertex id) in a kept checkpoint; 404 otherwise. */
    checkpointSubtasks(checkpointId: number, vertexId: string): TaskCheckpointWithSubtasks {
      const details = history.checkpoints.subtasks(checkpointId, vertexId);
      if (!details) throw notKept(checkpointId, vertexId);
      return details;
    },
    exceptions: ({ maxExceptions }: ExceptionsQuery = {}): JobExceptions =>
      history.exceptions.view(maxExceptions),
    /** The bounded history the job's result record keeps (asked for once the job ended). */
    archive: (): JobHistoryArchive => history.archive(jobMaster.info().vertices),
    /**
     * Leadership lost (Flink's JobMaster suspend): stops acting for the job at once, without
     * canceling its tasks, freeing its slots or producing an outcome. The job is not over: the
     * next leader's JobManager recovers it from the latest checkpoint, and the TaskManagers give
     * it their slots.
     */
    suspend(): void {
      run.run(lifecycle.suspend());
    },
    /** Cancels the job; resolves with its outcome once its tasks stopped and its slots went back. */
    cancel(): Promise<JobOutcome> {
      run.run(lifecycle.cancel());
      return outcome;
    },
    /** A savepoint of the running job (409 CONFLICT unless it runs); resolves with its path. */
    async savepoint(): Promise<string> {
      lifecycle.checkSavepoint();
      const cp = await coordinator.triggerSavepoint();
      return snapshotPrefix(cp.jobId, cp.checkpointId, true);
    },
    /**
     * Stop-with-savepoint: the job ends finished with the savepoint; resolves with its outcome.
     * 409 CONFLICT unless the job runs, or when a stop is under way already.
     */
    stop(): Promise<JobOutcome> {
      const actions = lifecycle.stopWithSavepoint();
      const stopped = new Promise<JobOutcome>((resolve, reject) => {
        run.onStopFailed(reject);
        void outcome.then(resolve);
      });
      run.run(actions);
      return stopped;
    },
  };
  return jobMaster;
}

/** The task keys of a vertex at `parallelism`, as the lifecycle follows them. */
function tasksOf(vertexId: string, parallelism: number): string[] {
  return Array.from({ length: parallelism }, (_, i) => taskKey(vertexId, i));
}

export type JobMaster = ReturnType<typeof createJobMaster>;
