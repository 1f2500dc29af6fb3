/**
 * The Dispatcher: the cluster's front door. It stores uploaded artifacts, persists submitted
 * jobs, runs one JobManager per job in this process, writes each job's result before forgetting
 * it, and, when it becomes leader, starts again every job that has no result yet, from its
 * latest checkpoint. One Dispatcher lives for one leadership term (cluster/role_blocks.ts): on
 * losing it, it suspends its JobManagers.
 */
import {
  ErrorCode,
  FlotillaError,
  type JobId,
  JobState,
  type Logger,
  newJobId,
  parseJobId,
  silentLogger,
  subjects,
} from "../core/mod.ts";
import { artifactHash, loadCheckpoint } from "../dataflow/internal_mod.ts";
import type { SchedulerOptions } from "../jobmanager/mod.ts";
import type {
  ArtifactUploaded,
  CancelAccepted,
  CollectedResults,
  JobDetails,
  JobOutcome,
  JobStopped,
  JobSummary,
  ResourceManagerApp,
  ResourceRequirements,
  SavepointTaken,
  StopJob,
  SubmitJob,
  VertexDetails,
} from "../protocol/mod.ts";
import { createClient, type RpcClient, unwrap } from "../rpc/mod.ts";
import { type GraphBuilder, inProcessGraphBuilder } from "./graph_builder.ts";
import { endedDetails, unknownJob } from "./job_answers.ts";
import {
  type Deadlines,
  firstAttemptOfTerm,
  type JobManagerRun,
  type JobManagerStart,
  runJobManager,
} from "./job_managers.ts";
import type { DispatcherStores, JobManagerFabric, JobRecord, JobResultRecord } from "./types.ts";

export interface DispatcherOptions {
  clusterId: string;
  fabric: JobManagerFabric;
  stores: DispatcherStores;
  /**
   * The fencing token of this Dispatcher's leadership term: greater in every later term, so the
   * JobManagers it recovers deploy attempts above any an earlier leader's did.
   */
  term: number;
  /**
   * Deadlines of its calls to JobManagers and the ResourceManager (`rpc.timeout`, ...) and of its
   * JobManagers' (`jobManagerDeadlinesFrom(config)`).
   */
  deadlines: Deadlines;
  /**
   * Builds a submitted or recovered job's graph from its artifact (`graph_builder.ts`): the
   * roles pass the sandbox, so user code never runs in this process. @default in this process
   */
  buildGraph?: GraphBuilder;
  /** Fails a job whose slots do not come within this long. @default 300000 */
  slotRequestTimeoutMs?: number;
  /** How many ended jobs keep their collected results and vertices in memory. @default 50 */
  retainedResults?: number;
  /** The cluster's scheduler settings (`jobmanager.scheduler`, ...). @default the default scheduler */
  scheduler?: SchedulerOptions;
  /**
   * Whether this term still leads (its fence, checked against the lease's own deadline): its
   * JobManagers do not act on timers or late answers once it does not. @default always
   */
  leading?: () => boolean;
  log?: Logger;
}

export function createDispatcher(options: DispatcherOptions) {
  const { clusterId, fabric, stores, term, deadlines, retainedResults = 50 } = options;
  const log = (options.log ?? silentLogger).child({ role: "dispatcher", cluster: clusterId });
  const settings = {
    clusterId,
    fabric,
    stores,
    deadlines,
    slotRequestTimeoutMs: options.slotRequestTimeoutMs ?? 300_000,
    buildGraph: options.buildGraph ?? inProcessGraphBuilder(),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.leading ? { leading: options.leading } : {}),
    log,
  };
  const resourceManager: RpcClient<ResourceManagerApp> = createClient<ResourceManagerApp>(
    fabric.transportFor(subjects.resourceManager(clusterId)),
    deadlines.rpc,
  );
  const running = new Map<string, JobManagerRun>();
  /** What recently ended jobs leave behind in memory only, oldest first. */
  const ended = new Map<string, { results: CollectedResults; vertices?: VertexDetails[] }>();

  /**
   * Jobs whose JobManager is being started: a recovered job's graph is built (in the sandbox, a
   * process start) before its JobManager serves, and callers meanwhile hear it is coming.
   */
  const starting = new Map<string, JobRecord>();
  /** A new leader's `recover()` is reading the stores: a job not running yet may be one of its. */
  let recovering = false;

  async function start(record: JobRecord, from: JobManagerStart = {}): Promise<void> {
    starting.set(record.jobId, record);
    let run: JobManagerRun;
    try {
      run = await runJobManager(settings, record, from);
    } finally {
      starting.delete(record.jobId);
    }
    running.set(record.jobId, run);
    void run.outcome.then(
      (outcome) => end(run, outcome),
      (err: Error) => log.error({ job: record.jobId, err: err.message }, "JobManager failed"),
    );
  }

  async function end(run: JobManagerRun, outcome: JobOutcome): Promise<void> {
    const { record } = run;
    // Its last view of the vertices and what its sinks committed, while it still serves.
    const [vertices, results] = await Promise.all([
      unwrap(run.control.status.$get()).then(
        (status) => status.vertices,
        () => undefined,
      ),
      unwrap(run.control.results.$get()).catch((err: Error) => {
        log.warn({ job: record.jobId, err: err.message }, "the ended job's results are lost");
        return {};
      }),
    ]);
    const result: JobResultRecord = {
      jobId: record.jobId,
      name: record.name,
      state: outcome.state,
      ...(outcome.error ? { error: outcome.error } : {}),
      restarts: outcome.restarts,
      ...(outcome.rescales ? { rescales: outcome.rescales } : {}),
      checkpoints: outcome.checkpoints,
      ...(outcome.savepoint ? { savepoint: outcome.savepoint } : {}),
      submittedAt: record.submittedAt,
      finishedAt: Date.now(),
    };
    // The result first: once it exists the job is never started again, whatever fails next.
    await stores.results
      .put(result)
      .catch((err: Error) => log.error({ err: err.message }, "storing the job result failed"));
    await stores.jobs.remove(record.jobId).catch(() => {});
    await stores.checkpoints.removeJob(record.jobId).catch(() => {});
    ended.set(record.jobId, { results, ...(vertices ? { vertices } : {}) });
    while (ended.size > retainedResults) ended.delete(ended.keys().next().value!);
    log.info({ job: record.jobId, state: result.state }, "job ended");
    running.delete(record.jobId);
    // TaskManagers' late reports about the job find no JobManager: they drop them.
    await run.retire();
  }

  /** Why a job has no JobManager here: starting (503, retry), ended (409), or unknown (404). */
  async function notRunning(jobId: string): Promise<FlotillaError> {
    if (starting.has(jobId) || recovering)
      return new FlotillaError(
        ErrorCode.UNAVAILABLE,
        starting.has(jobId)
          ? `job ${jobId} is starting (its JobManager is being created, e.g. after a leader change): try again`
          : `this Dispatcher is recovering its jobs after a leader change; job ${jobId} may be one of them: try again`,
      );
    const result = await stores.results.get(jobId);
    return result
      ? new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} already ${result.state}`)
      : unknownJob(jobId);
  }

  /** Calls the job's JobManager; a job that ended meanwhile (its JobManager gone) is a 409. */
  async function withJobManager<T>(jobId: string, call: (run: JobManagerRun) => Promise<T>) {
    const run = running.get(jobId);
    if (!run) throw await notRunning(jobId);
    try {
      return await call(run);
    } catch (err) {
      if (!running.has(jobId)) throw await notRunning(jobId);
      throw err;
    }
  }

  async function currentState(run: JobManagerRun): Promise<JobState> {
    try {
      run.lastState = (await unwrap(run.control.status.$get())).state;
    } catch (err) {
      log.debug({ job: run.record.jobId, err: (err as Error).message }, "no status: last known");
    }
    return run.lastState;
  }

  return {
    log,
    stores,
    resourceManager,

    async hasArtifact(artifact: string): Promise<boolean> {
      return stores.blobs.has(artifact);
    },

    async uploadArtifact(bytes: Uint8Array): Promise<ArtifactUploaded> {
      if (bytes.byteLength === 0)
        throw new FlotillaError(
          ErrorCode.BAD_REQUEST,
          "the artifact is empty: send the bundled job as the request body",
        );
      const hash = await artifactHash(bytes);
      const exists = await stores.blobs.has(hash);
      if (!exists) await stores.blobs.put(bytes);
      return { artifact: hash, size: bytes.byteLength, created: !exists };
    },

    async submit(request: SubmitJob): Promise<JobId> {
      const bytes = await stores.blobs.get(request.artifact);
      if (!bytes)
        throw new FlotillaError(
          ErrorCode.NOT_FOUND,
          `artifact ${request.artifact} is not in the blob store: upload it with POST /artifacts first`,
        );
      // Build once here, so a bad job is a 400 now rather than a failed job later.
      const topology = await settings.buildGraph({
        artifact: request.artifact,
        bytes,
        args: request.args,
        ...(request.parallelism ? { parallelism: request.parallelism } : {}),
        ...(request.secrets ? { secrets: request.secrets } : {}),
      });
      const restoreFrom = request.savepoint
        ? await loadCheckpoint(stores.snapshots, request.savepoint)
        : undefined;
      const jobId = newJobId();
      const record: JobRecord = {
        jobId,
        name: topology.options.name,
        artifact: request.artifact,
        args: request.args,
        ...(request.parallelism ? { parallelism: request.parallelism } : {}),
        ...(request.savepoint ? { savepoint: request.savepoint } : {}),
        ...(request.secrets ? { secrets: request.secrets } : {}),
        submittedAt: Date.now(),
      };
      await stores.jobs.put(record);
      if (restoreFrom) await stores.checkpoints.add({ ...restoreFrom, jobId });
      await start(record, { topology, ...(restoreFrom ? { restoreFrom } : {}) });
      return jobId;
    },

    /** As leader: start every stored job that has no result, from its latest checkpoint. */
    async recover(): Promise<string[]> {
      recovering = true;
      try {
        const recovered: string[] = [];
        for (const record of await stores.jobs.list()) {
          if (running.has(record.jobId) || (await stores.results.get(record.jobId))) continue;
          const latest = await stores.checkpoints.latest(record.jobId);
          log.info({ job: record.jobId, checkpoint: latest?.checkpointId }, "recovering job");
          await start(record, {
            ...(latest ? { restoreFrom: latest } : {}),
            firstAttempt: firstAttemptOfTerm(term),
          });
          recovered.push(record.jobId);
        }
        return recovered;
      } finally {
        recovering = false;
      }
    },

    /** Every job this Dispatcher knows, newest first. */
    async jobs(): Promise<JobSummary[]> {
      const runs = [...running.values()];
      const live = await Promise.all(
        runs.map(async (run) => ({
          id: parseJobId(run.record.jobId),
          name: run.record.name,
          state: await currentState(run),
          submittedAt: run.record.submittedAt,
        })),
      );
      const coming = [...starting.values()].map((record) => ({
        id: parseJobId(record.jobId),
        name: record.name,
        state: JobState.CREATED,
        submittedAt: record.submittedAt,
      }));
      const done = (await stores.results.list())
        .filter((r) => !running.has(r.jobId))
        .map((r) => ({
          id: parseJobId(r.jobId),
          name: r.name,
          state: r.state,
          submittedAt: r.submittedAt,
          finishedAt: r.finishedAt,
        }));
      return [...live, ...coming, ...done].sort((a, b) => b.submittedAt - a.submittedAt);
    },

    /** A running job as its JobManager sees it, or an ended job's result. */
    async details(jobId: JobId): Promise<JobDetails> {
      const run = running.get(jobId);
      if (run) {
        try {
          const status = await unwrap(run.control.status.$get());
          run.lastState = status.state;
          return { ...status, submittedAt: run.record.submittedAt };
        } catch (err) {
          if (running.has(jobId)) throw err;
        }
      }
      const result = await stores.results.get(jobId);
      if (!result) throw await notRunning(jobId);
      return endedDetails(result, ended.get(jobId)?.vertices);
    },

    /** What the job's `collect` sinks committed; an ended job's only while it is retained. */
    async results(jobId: JobId): Promise<CollectedResults> {
      const run = running.get(jobId);
      if (run) {
        try {
          return await unwrap(run.control.results.$get());
        } catch (err) {
          if (running.has(jobId)) throw err;
        }
      }
      const kept = ended.get(jobId);
      if (kept) return kept.results;
      if (await stores.results.get(jobId)) return {};
      throw unknownJob(jobId);
    },

    cancel: (jobId: JobId): Promise<CancelAccepted> =>
      withJobManager(jobId, (run) => unwrap(run.control.cancel.$post())),

    savepoint: (jobId: JobId): Promise<SavepointTaken> =>
      withJobManager(jobId, (run) => unwrap(run.savepoints.savepoints.$post())),

    stop: (jobId: JobId, request: StopJob): Promise<JobStopped> =>
      withJobManager(jobId, async (run) => {
        const outcome = await unwrap(run.stops.stop.$post({ json: request }));
        return {
          jobId,
          state: outcome.state,
          ...(outcome.savepoint ? { savepoint: outcome.savepoint } : {}),
        };
      }),

    resourceRequirements: (jobId: JobId): Promise<ResourceRequirements> =>
      withJobManager(jobId, (run) => unwrap(run.control["resource-requirements"].$get())),

    setResourceRequirements: (
      jobId: JobId,
      requirements: ResourceRequirements,
    ): Promise<ResourceRequirements> =>
      withJobManager(jobId, (run) =>
        unwrap(run.control["resource-requirements"].$put({ json: requirements })),
      ),

    /**
     * Leadership lost, or the process stops: every JobManager is suspended, without a result
     * (its job is not over), and stops serving. The next leader recovers the jobs.
     */
    async suspend(): Promise<void> {
      const runs = [...running.values()];
      running.clear();
      for (const run of runs) run.suspend();
      await Promise.all(runs.map((run) => run.retire()));
      if (runs.length > 0)
        log.info(
          { jobs: runs.map(({ record }) => record.jobId) },
          "JobManagers suspended: the next leader recovers their jobs",
        );
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
