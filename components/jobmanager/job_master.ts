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
  JobState,
  type Logger,
  silentLogger,
  subjects,
  toFlotillaError,
} from "../core/mod.ts";
import {
  CheckpointCoordinator,
  CommittedResults,
  type CompletedCheckpoint,
  type JobGraph,
  restartPolicy,
  type SnapshotStore,
} from "../dataflow/internal_mod.ts";
import { createClient, type Transport, unwrap } from "../rpc/mod.ts";
import { type Clock, compileScheduler, type SchedulerOptions } from "./adaptive.ts";
import { type TaskSlot, vertexDetails } from "./job_details.ts";
import { createRescaler, type Rescaler } from "./rescaler.ts";
import { requirementsView } from "./resource_requirements.ts";
import { type PooledSlot, SlotPool } from "./slot_pool.ts";
import type { ResourceRequirements, TaskMetricsReport, TaskReport } from "./types.ts";

/** The job states, shared with the local executor. */
export const JobStatus = JobState;
export type JobStatus = JobState;
/** States a JobManager never leaves; suspended ends this JobManager, not the job. */
const TERMINAL = new Set<JobStatus>([
  JobStatus.FINISHED,
  JobStatus.CANCELED,
  JobStatus.FAILED,
  JobStatus.SUSPENDED,
]);

export interface JobManagerOptions {
  clusterId: string;
  jobId: string;
  graph: JobGraph;
  /** sha256 of the artifact TaskManagers load. */
  artifact: string;
  args?: Record<string, string>;
  /** The parallelism override the graph was built with (TaskManagers rebuild it the same way). */
  parallelism?: number;
  restoreFrom?: CompletedCheckpoint;
  /**
   * The first attempt number. A JobManager recovered after a failover starts above every attempt
   * its predecessor may have deployed, so stale tasks and channels never mix with new ones.
   * @default 0
   */
  firstAttempt?: number;
  transportFor(subject: string): Transport;
  snapshots: SnapshotStore;
  /** Persists completed checkpoints (the HA store). */
  onCheckpoint?(checkpoint: CompletedCheckpoint): Promise<void>;
  /**
   * Fails the job when its slots are not all there after this long (adaptive: not even the lower
   * bound's; reactive: never). @default 300000 (Flink's)
   */
  slotRequestTimeoutMs?: number;
  /**
   * Builds the job's graph with each vertex at the given parallelism (`job.graph({ args,
   * parallelism, vertexParallelism })`): what the adaptive scheduler rescales with. Without it a
   * job runs with the default scheduler.
   */
  rebuild?(vertexParallelism: Record<string, number>): JobGraph;
  /** The cluster's scheduler settings (`jobmanager.scheduler`, ...); the job's option wins. */
  scheduler?: SchedulerOptions;
  /** Bounds a PUT set before (kept in the job's HA record): the adaptive scheduler starts with them. */
  resourceRequirements?: ResourceRequirements;
  /** Persists bounds a PUT sets, so the next leader's JobManager keeps them; awaited by the PUT. */
  onResourceRequirements?(requirements: ResourceRequirements): Promise<void>;
  /** For tests: the stabilization window's clock. */
  clock?: Clock;
  log?: Logger;
}

export interface JobOutcome {
  jobId: string;
  state: "finished" | "canceled" | "failed";
  error?: { code: string; message: string };
  restarts: number;
  rescales: number;
  checkpoints: number;
  savepoint?: string;
  results: Record<string, unknown[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createJobMaster(options: JobManagerOptions) {
  const {
    clusterId,
    jobId,
    graph: baseGraph,
    artifact,
    args = {},
    transportFor,
    snapshots,
    slotRequestTimeoutMs = 300_000,
  } = options;
  const log = (options.log ?? silentLogger).child({ role: "jobmanager", job: jobId });
  const subject = subjects.jobManager(clusterId, jobId);
  const rmSubject = subjects.resourceManager(clusterId);
  const client = (target: string): any =>
    createClient<any>(transportFor(target), { timeoutMs: 5000 });
  let graph = baseGraph;
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
    store: snapshots,
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
            freeSlot,
            declare: () =>
              void declare().catch((err: Error) =>
                log.warn({ err: err.message }, "declaring requirements failed"),
              ),
            waiting(why) {
              waitingFor ||= why;
            },
          },
          graph: baseGraph,
          rebuild: options.rebuild,
          scheduler,
          ...(options.resourceRequirements ? { initial: options.resourceRequirements } : {}),
          ...(options.clock ? { clock: options.clock } : {}),
        })
      : undefined;
  let status: JobStatus = JobStatus.CREATED;
  let attempt = (options.firstAttempt ?? 0) - 1;
  let restarts = 0;
  let tasks = new Map<string, TaskSlot>();
  let waitingFor = "";
  let slotTimer: ReturnType<typeof setTimeout> | undefined;
  let stopSavepoint: string | undefined;
  let settleAttempt: (() => void) | undefined;
  let resolveOutcome!: (o: JobOutcome) => void;
  const outcome = new Promise<JobOutcome>((r) => {
    resolveOutcome = r;
  });

  const keyOf = (vertexId: string, subtask: number) => `${vertexId}/${subtask}`;
  const terminal = (s: TaskReport["state"]) =>
    s === "finished" || s === "canceled" || s === "failed";

  function setStatus(next: JobStatus, why?: string): void {
    if (status === next) return;
    log.info({ from: status, to: next, why }, "job state");
    status = next;
  }

  async function declare(): Promise<void> {
    const requirements = pool.requirements();
    await unwrap(
      client(rmSubject).jobs[":jobId"].requirements.$put({
        param: { jobId },
        json: { jmSubject: subject, requirements },
      }),
    );
    if (rescaler && scheduler.reactive) return; // reactive mode waits for slots as long as it takes
    slotTimer ??= setTimeout(() => {
      const runnable = rescaler ? status !== JobStatus.CREATED : pool.complete();
      if (!runnable && !TERMINAL.has(status)) {
        void fail(
          new FlotillaError(
            ErrorCode.NO_RESOURCES,
            `slots not available within ${slotRequestTimeoutMs} ms${waitingFor ? `: ${waitingFor}` : ""}`,
          ),
          false,
        );
      }
    }, slotRequestTimeoutMs);
  }

  async function freeSlot(slot: PooledSlot): Promise<void> {
    await unwrap(
      client(slot.tmSubject).slots[":slotId"].free.$post({
        param: { slotId: slot.slotId },
        json: { allocationId: slot.allocationId },
      }),
    ).catch(() => {});
  }

  function deployAttempt(): void {
    // A rescale or restart finishing after a suspension deploys nothing.
    if (TERMINAL.has(status)) return;
    if (slotTimer) clearTimeout(slotTimer);
    slotTimer = undefined;
    attempt++;
    const current = attempt;
    tasks = new Map();
    const restore = coordinator.latest;
    for (const v of graph.vertices) {
      for (let i = 0; i < v.parallelism; i++)
        tasks.set(keyOf(v.id, i), {
          state: "deploying",
          slot: pool.slotFor(v.slotSharingGroup, i),
        });
    }
    const bySubject = (pred: (t: TaskSlot, key: string) => boolean) => [
      ...new Set(
        [...tasks.entries()].filter(([k, t]) => pred(t, k)).map(([, t]) => t.slot.tmSubject),
      ),
    ];
    coordinator.attach({
      trigger: (id, final) => {
        const sources = new Set(graph.vertices.filter((v) => v.source).map((v) => v.id));
        for (const tm of bySubject((_t, k) => sources.has(k.split("/")[0]!))) {
          void unwrap(
            client(tm).jobs[":jobId"].checkpoints[":id"].trigger.$post({
              param: { jobId, id: String(id) },
              json: { attempt: current, final },
            }),
          ).catch((err: Error) => {
            // A source that never got the trigger never sends its barrier: abort now rather
            // than at the checkpoint timeout, so the next checkpoint can start.
            log.warn({ err: err.message, checkpoint: id }, "trigger failed");
            coordinator.abort(id, `the trigger to ${tm} failed: ${err.message}`);
          });
        }
      },
      fail: (reason) =>
        void fail(new FlotillaError(ErrorCode.TIMEOUT, reason), true).catch((err: Error) =>
          log.error({ err: err.message }, "failing the attempt failed"),
        ),
      notify: async (id) => {
        await Promise.all(
          bySubject(() => true).map((tm) =>
            unwrap(
              client(tm).jobs[":jobId"].checkpoints[":id"].complete.$post({
                param: { jobId, id: String(id) },
              }),
            ).catch((err: Error) =>
              log.warn({ err: err.message, checkpoint: id }, "notify failed"),
            ),
          ),
        );
      },
    });
    setStatus(JobStatus.RUNNING);
    for (const v of graph.vertices) {
      for (let i = 0; i < v.parallelism; i++) {
        const slot = pool.slotFor(v.slotSharingGroup, i);
        const descriptor = {
          jobId,
          attempt: current,
          vertexId: v.id,
          subtask: i,
          allocationId: slot.allocationId,
          jmSubject: subject,
          artifact,
          args,
          ...(options.parallelism ? { parallelism: options.parallelism } : {}),
          ...(rescaler ? { vertexParallelism: rescaler.vertexParallelism! } : {}),
          ...(restore?.vertices[v.id] ? { restore: restore.vertices[v.id]!.handles } : {}),
        };
        void unwrap(client(slot.tmSubject).tasks.$post({ json: descriptor })).catch(
          (err: unknown) => {
            const code = toFlotillaError(err).code;
            // The TaskManager no longer holds the slot for this job (freed, or given to another
            // job): the restart must not deploy on it again, but ask the RM for another.
            if (
              code === ErrorCode.CONFLICT &&
              pool.all().some((s) => s.allocationId === slot.allocationId)
            ) {
              log.warn(
                { tm: slot.tmId, slot: slot.slotId },
                "the TaskManager does not hold this slot for the job: dropping it",
              );
              pool.remove(slot.slotId);
            }
            onTaskReport({
              attempt: current,
              vertexId: v.id,
              subtask: i,
              state: "failed",
              error: { code, message: `deployment failed: ${(err as Error).message}` },
            });
          },
        );
      }
    }
  }

  /** Running tasks' counters between state reports (records in/out for status and the CLI). */
  function onTaskMetrics(report: TaskMetricsReport): void {
    if (report.attempt !== attempt) return;
    for (const { vertexId, subtask, metrics } of report.tasks) {
      const task = tasks.get(keyOf(vertexId, subtask));
      if (task && !terminal(task.state)) task.metrics = metrics;
    }
  }

  function onTaskReport(report: TaskReport): void {
    if (report.attempt !== attempt) return;
    const task = tasks.get(keyOf(report.vertexId, report.subtask));
    if (!task || terminal(task.state)) return;
    task.state = report.state;
    if (report.metrics) task.metrics = report.metrics;
    if (report.state === "failed") {
      void fail(
        new FlotillaError(
          (report.error?.code as ErrorCode) ?? ErrorCode.INTERNAL,
          `${report.vertexId}#${report.subtask}: ${report.error?.message ?? "failed"}`,
        ),
        true,
      );
    }
    if ([...tasks.values()].every((t) => terminal(t.state))) settleAttempt?.();
    if (status === JobStatus.RUNNING && [...tasks.values()].every((t) => t.state === "finished"))
      void end("finished");
  }

  /** Cancels every task of the current attempt and waits until they all stopped (or gave up on). */
  async function stopAttempt(): Promise<void> {
    coordinator.detach();
    const live = [...tasks.values()].filter((t) => !terminal(t.state));
    if (live.length === 0) return;
    const settled = new Promise<void>((r) => {
      settleAttempt = r;
    });
    const tms = [...new Set(live.map((t) => t.slot.tmSubject))];
    await Promise.all(
      tms.map((tm) =>
        unwrap(
          client(tm).jobs[":jobId"].cancel.$post({ param: { jobId }, json: { attempt } }),
        ).catch(() => {}),
      ),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    settleAttempt = undefined;
  }

  async function fail(error: FlotillaError, restartable: boolean): Promise<void> {
    if (
      status === JobStatus.FAILING ||
      status === JobStatus.RESTARTING ||
      TERMINAL.has(status) ||
      status === JobStatus.CANCELING
    )
      return;
    setStatus(JobStatus.FAILING, error.message);
    await stopAttempt();
    const decision = restartable
      ? policy.onFailure(Date.now())
      : { restart: false, delayMs: 0, reason: "not restartable" };
    if (!decision.restart) {
      await end("failed", new FlotillaError(error.code, `${error.message} (${decision.reason})`));
      return;
    }
    setStatus(JobStatus.RESTARTING, error.message);
    await sleep(decision.delayMs);
    // A cancel during the delay wins.
    if ((status as JobStatus) !== JobStatus.RESTARTING) return;
    restarts++;
    if (rescaler) {
      setStatus(JobStatus.CREATED, "waiting for slots");
      await declare().catch((err: Error) =>
        log.warn({ err: err.message }, "declaring requirements failed"),
      );
      rescaler.restart();
    } else if (pool.complete()) deployAttempt();
    else {
      setStatus(JobStatus.CREATED, "waiting for slots");
      await declare().catch((err: Error) =>
        log.warn({ err: err.message }, "declaring requirements failed"),
      );
    }
  }

  async function release(): Promise<void> {
    for (const slot of pool.clear()) await freeSlot(slot);
    await unwrap(client(rmSubject).jobs[":jobId"].$delete({ param: { jobId } })).catch(() => {});
  }

  async function end(
    state: "finished" | "canceled" | "failed",
    error?: FlotillaError,
  ): Promise<void> {
    if (TERMINAL.has(status)) return;
    if (slotTimer) clearTimeout(slotTimer);
    rescaler?.stop();
    coordinator.detach();
    const final = stopSavepoint ? "finished" : state;
    setStatus(
      final === "finished"
        ? JobStatus.FINISHED
        : final === "canceled"
          ? JobStatus.CANCELED
          : JobStatus.FAILED,
      error?.message,
    );
    await release();
    resolveOutcome({
      jobId,
      state: final,
      ...(error && final === "failed"
        ? { error: { code: error.code, message: error.message } }
        : {}),
      restarts,
      rescales: rescaler?.rescales ?? 0,
      checkpoints: coordinator.completed,
      ...(stopSavepoint ? { savepoint: stopSavepoint } : {}),
      results: committed.bySink,
    });
  }

  return {
    jobId,
    subject,
    /** The current attempt's graph (its parallelism changes with the adaptive scheduler). */
    get graph() {
      return graph;
    },
    outcome,
    status: () => status,
    /** What the job's collect sinks committed so far. */
    results: () => committed.bySink,
    /**
     * Declares the job's requirements. The ResourceManager may not be elected yet (at start, or
     * after a failover): a failed declaration is retried in the background (200 ms doubling to
     * 2 s) until one is answered or the job ended. Resolves whether the first one was answered.
     */
    async start(): Promise<boolean> {
      const attempt = () =>
        declare().then(
          () => true,
          (err: Error) => {
            log.debug({ err: err.message }, "declaring requirements failed; retrying");
            return false;
          },
        );
      if (await attempt()) return true;
      void (async () => {
        for (let wait = 200; !TERMINAL.has(status); wait = Math.min(wait * 2, 2000)) {
          await sleep(wait);
          if (TERMINAL.has(status) || (await attempt())) return;
        }
      })();
      return false;
    },
    offer(slots: Omit<PooledSlot, "group">[]): string[] {
      if (TERMINAL.has(status) || status === JobStatus.CANCELING) return [];
      const held = new Set(pool.all().map((s) => s.slotId));
      const accepted = slots.filter((s) => pool.offer(s)).map((s) => s.slotId);
      // A slot offered again (the RM matching again after a loss) is no news.
      const added = accepted.filter((id) => !held.has(id)).length;
      if (rescaler) {
        if (added > 0)
          rescaler.slotsChanged(
            `${slots[0]!.tmId} offered ${added === 1 ? "a slot" : `${added} slots`} (${pool.all().length} in all)`,
          );
      } else if (pool.complete() && status === JobStatus.CREATED) deployAttempt();
      return accepted;
    },
    onTaskReport,
    onTaskMetrics,
    checkpointing: (report: { attempt: number; vertexId: string; subtask: number }) =>
      report.attempt === attempt ? coordinator.forTask(report.vertexId, report.subtask) : undefined,
    addResults: (sinkId: string, values: unknown[], batchId?: string): void =>
      committed.add(sinkId, values, batchId),
    resourcesUnavailable(missing: { profile: unknown; count: number }[]): void {
      waitingFor = `the ResourceManager cannot provide ${missing.map((m) => `${m.count} x ${JSON.stringify(m.profile)}`).join(", ")}`;
      // Adaptive jobs ask for their upper bound and run with less: that is no news.
      if (rescaler) log.debug({ missing }, "resources unavailable; running with what there is");
      else log.warn({ missing }, "resources unavailable; waiting");
    },
    taskManagerLost(tmId: string): void {
      const lost = pool.removeTaskManager(tmId);
      if (lost.length === 0) return;
      const why = `TaskManager ${tmId} lost (${lost.length} slots)`;
      const hit = [...tasks.values()].some((t) => t.slot.tmId === tmId && !terminal(t.state));
      for (const t of tasks.values())
        if (t.slot.tmId === tmId && !terminal(t.state)) t.state = "failed";
      // A stop already waiting for these tasks' last reports waits no longer: none will come.
      if ([...tasks.values()].every((t) => terminal(t.state))) settleAttempt?.();
      if (hit || status === JobStatus.RUNNING)
        void fail(new FlotillaError(ErrorCode.UNAVAILABLE, `TaskManager ${tmId} was lost`), true);
      // After fail() the job is failing: the rescaler notes why and acts when it restarts.
      rescaler?.slotsChanged(why);
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
      if (TERMINAL.has(status) || status === JobStatus.CANCELING)
        throw new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} is ${status}`);
      const view = rescaler.setRequirements(body);
      await options.onResourceRequirements?.(view);
      return view;
    },
    info() {
      const latest = coordinator.latest;
      return {
        jobId,
        name: graph.options.name,
        state: status,
        attempt,
        restarts,
        scheduler: rescaler ? (scheduler.reactive ? "reactive" : "adaptive") : "default",
        rescales: rescaler?.rescales ?? 0,
        ...(rescaler ? { parallelismBounds: rescaler.bounds } : {}),
        checkpoints: coordinator.completed,
        ...(latest
          ? { lastCheckpoint: { id: latest.checkpointId, timestamp: latest.timestamp } }
          : {}),
        ...(waitingFor && status === JobStatus.CREATED ? { waitingFor } : {}),
        vertices: vertexDetails(graph, tasks, rescaler?.requirements()),
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
      setStatus(JobStatus.SUSPENDED, "leadership lost");
      if (slotTimer) clearTimeout(slotTimer);
      slotTimer = undefined;
      rescaler?.stop();
      coordinator.detach();
      settleAttempt?.();
    },
    async cancel(): Promise<JobOutcome> {
      if (!TERMINAL.has(status)) {
        setStatus(JobStatus.CANCELING);
        await stopAttempt();
        await end("canceled");
      }
      return outcome;
    },
    async savepoint(): Promise<string> {
      if (status !== JobStatus.RUNNING)
        throw new FlotillaError(
          ErrorCode.CONFLICT,
          `job ${jobId} is ${status}: savepoints need a running job`,
        );
      const cp = await coordinator.triggerSavepoint();
      return `savepoints/${cp.jobId}/${cp.checkpointId}`;
    },
    async stop(): Promise<JobOutcome> {
      stopSavepoint = await this.savepoint();
      return await this.cancel();
    },
  };
}

export type JobMaster = ReturnType<typeof createJobMaster>;
