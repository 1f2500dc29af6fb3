/**
 * The Dispatcher: the cluster's front door. It stores uploaded artifacts, persists submitted
 * jobs, runs one JobManager per job in this process, writes each job's result before forgetting
 * it, and, when it becomes leader, starts again every job that has no result yet, from its
 * latest checkpoint. One Dispatcher lives for one leadership term (cluster/role_blocks.ts): on
 * losing it, it suspends its JobManagers. What it keeps is bounded: ended jobs by count and age
 * (ended_jobs.ts), artifacts by count and disuse (artifact_sweeper.ts), collected values per job.
 */
import {
  Admission,
  ErrorCode,
  FlotillaError,
  type JobId,
  type JobState,
  silentLogger,
  subjects,
  systemClock,
} from "../core/mod.ts";
import type {
  CancelAccepted,
  CollectedResults,
  JobOutcome,
  ResourceManagerApp,
  ResourceRequirements,
  SubmitJob,
} from "../protocol/mod.ts";
import { createClient, type RpcClient, unwrap } from "../rpc/mod.ts";
import { cachedBlobs } from "./artifact_bytes.ts";
import { artifactUploads } from "./artifact_uploads.ts";
import type { JobView } from "./flink_job_views.ts";
import { inProcessGraphBuilder } from "./graph_builder.ts";
import { endedView, liveView, startingView } from "./job_answers.ts";
import { endedArchive, jobHistoryAnswers, keptArchives } from "./job_history.ts";
import { countByState, type JobPageRequest, jobPage, type Listed } from "./job_listing.ts";
import {
  firstAttemptOfTerm,
  type JobManagerRun,
  type JobManagerStart,
  runJobManager,
} from "./job_managers.ts";
import { prepareJob } from "./job_submission.ts";
import type { DispatcherOptions } from "./options.ts";
import { dispatcherRetention } from "./retention.ts";
import type { JobRecord, JobResultRecord } from "./types.ts";

/** Submissions at once: the graph builds running and waiting (2 + 8), a few more reading. */
const MAX_SUBMITTING = 16;

export function createDispatcher(options: DispatcherOptions) {
  const { clusterId, fabric, term, deadlines, clock = systemClock } = options;
  const stores = { ...options.stores, blobs: cachedBlobs(options.stores.blobs) };
  const log = (options.log ?? silentLogger).child({ role: "dispatcher", cluster: clusterId });
  const settings = {
    clusterId,
    fabric,
    stores,
    deadlines,
    slotRequestTimeoutMs: options.slotRequestTimeoutMs ?? 300_000,
    buildGraph: options.buildGraph ?? inProcessGraphBuilder(),
    ...(options.collectMaxRecords ? { collectMaxRecords: options.collectMaxRecords } : {}),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.history ? { history: options.history } : {}),
    ...(options.leading ? { leading: options.leading } : {}),
    log,
  };
  const resourceManager: RpcClient<ResourceManagerApp> = createClient<ResourceManagerApp>(
    fabric.transportFor(subjects.resourceManager(clusterId)),
    deadlines.rpc,
  );
  const running = new Map<string, JobManagerRun>();
  /**
   * Jobs whose JobManager is being started: a recovered job's graph is built (in the sandbox, a
   * process start) before its JobManager serves, and callers meanwhile hear it is coming.
   */
  const starting = new Map<string, JobRecord>();
  /** A new leader's `recover()` is reading the stores: a job not running yet may be one of its. */
  let recovering = false;

  const retention = dispatcherRetention(options, {
    stores,
    artifactsInUse: async () => {
      const used = new Set<string>();
      for (const run of running.values()) used.add(run.record.artifact);
      for (const record of starting.values()) used.add(record.artifact);
      // Stored graphs: jobs not ended, which a next leader recovers.
      for (const record of await stores.jobs.list()) used.add(record.artifact);
      return used;
    },
    clock,
    log,
  });
  const { ended, artifacts, endedJob, forgotten } = retention;

  const submissions = new Admission(MAX_SUBMITTING, "submissions");
  const maxRunningJobs = options.maxRunningJobs ?? 1000;

  async function submitNow(request: SubmitJob): Promise<JobId> {
    if (running.size + starting.size >= maxRunningJobs)
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `${running.size + starting.size} jobs have not ended, the most dispatcher.max-running-jobs (${maxRunningJobs}) allows: submit again when one ends`,
      );
    artifacts.touch(request.artifact);
    const { record, ...from } = await prepareJob(request, {
      stores,
      buildGraph: settings.buildGraph,
      clock,
    });
    await start(record, from);
    return record.jobId as JobId;
  }

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
    const [vertices, results, history] = await Promise.all([
      unwrap(run.control.status.$get()).then(
        (status) => status.vertices,
        () => undefined,
      ),
      unwrap(run.control.results.$get()).catch((err: Error) => {
        log.warn({ job: record.jobId, err: err.message }, "the ended job's results are lost");
        return {};
      }),
      endedArchive(run, log),
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
      finishedAt: clock.now(),
      ...(history ? { history } : {}),
    };
    // The result first: once it exists the job is never started again, whatever fails next.
    await stores.results
      .put(result)
      .catch((err: Error) => log.error({ err: err.message }, "storing the job result failed"));
    await stores.jobs.remove(record.jobId).catch(() => {});
    await stores.checkpoints.removeJob(record.jobId).catch(() => {});
    await retention.add(result, {
      results,
      ...(vertices ? { vertices } : {}),
      topology: run.topology,
      args: record.args,
    });
    artifacts.touch(record.artifact);
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
    const result = await endedJob(jobId);
    return result
      ? new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} already ${result.state}`)
      : forgotten(jobId);
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
      run.lastStatus = await unwrap(run.control.status.$get());
      run.lastState = run.lastStatus.state;
    } catch (err) {
      log.debug({ job: run.record.jobId, err: (err as Error).message }, "no status: last known");
    }
    return run.lastState;
  }

  return {
    log,
    stores,
    resourceManager,
    /** Where any block's subject is reached, within `rpc` deadlines (metric queries ask TaskManagers). */
    transportFor: (subject: string) => fabric.transportFor(subject),
    rpcDeadlines: deadlines.rpc,

    async hasArtifact(artifact: string): Promise<boolean> {
      return stores.blobs.has(artifact);
    },

    uploadArtifact: artifactUploads(stores.blobs, artifacts),

    /** Runs the jobstore's expiry now (a timer runs it too): the jobs it forgot. */
    expireJobs: (): Promise<string[]> => retention.expire(),

    /** Runs the artifact sweep now (a timer runs it too): the artifacts it deleted. */
    sweepArtifacts: (): Promise<string[]> => artifacts.sweep(),

    // Refused before any work past MAX_SUBMITTING: a flood costs a counter check per request.
    submit: (request: SubmitJob): Promise<JobId> => submissions.admit(() => submitNow(request)),

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

    /** The jobs this Dispatcher keeps, newest first, one page at a time. */
    async jobs(request: JobPageRequest = {}) {
      await retention.whenLoaded();
      const listed: Listed[] = [];
      for (const run of running.values())
        listed.push({ kind: "live", record: run.record, state: () => currentState(run) });
      for (const record of starting.values()) listed.push({ kind: "starting", record });
      for (const result of ended.list())
        if (!running.has(result.jobId)) listed.push({ kind: "ended", result });
      return jobPage(listed, request);
    },

    /**
     * How many jobs are in each state: the ended ones counted as they end, the running ones asked
     * (as many calls as jobs run, never as many as ever ran).
     */
    async counts(): Promise<Record<JobState, number>> {
      await retention.whenLoaded();
      return countByState([...running.values()], currentState, starting.size, ended.counts());
    },

    /** A running job as its JobManager sees it now, or an ended job's result and archive. */
    async view(jobId: JobId): Promise<JobView> {
      const run = running.get(jobId);
      if (run) {
        try {
          const status = await unwrap(run.control.status.$get());
          run.lastStatus = status;
          run.lastState = status.state;
          return liveView(run, status);
        } catch (err) {
          if (running.has(jobId)) throw err;
        }
      }
      const result = await endedJob(jobId);
      if (!result) throw await notRunning(jobId);
      return endedView(result, ended.leftovers(jobId), ended.archive(jobId));
    },

    /**
     * Every job kept, for `/jobs/overview`: the running ones as last seen (at most
     * MAX_STATE_CALLS of them asked now, the least recently asked), starting and ended ones.
     */
    async views(): Promise<JobView[]> {
      await retention.whenLoaded();
      const live = [...running.values()];
      await countByState(live, currentState, 0, { FINISHED: 0, CANCELED: 0, FAILED: 0 });
      const views: JobView[] = live.map((run) =>
        run.lastStatus ? liveView(run, run.lastStatus) : startingView(run),
      );
      for (const record of starting.values()) views.push(startingView({ record }));
      for (const result of ended.list())
        if (!running.has(result.jobId))
          views.push(endedView(result, ended.leftovers(result.jobId), ended.archive(result.jobId)));
      return views.sort((a, b) => b.submittedAt - a.submittedAt || (a.jobId < b.jobId ? 1 : -1));
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
      if (!(await endedJob(jobId))) throw forgotten(jobId);
      return ended.leftovers(jobId)?.results ?? {};
    },

    /** Checkpoints and exceptions of a running job, or from an ended one's archive. */
    history: jobHistoryAnswers({
      running: (jobId) => running.get(jobId),
      archive: keptArchives(ended, endedJob, stores.results),
      notRunning,
    }),

    cancel: (jobId: JobId): Promise<CancelAccepted> =>
      withJobManager(jobId, (run) => unwrap(run.control.cancel.$post())),

    /** Throws what a job route answers for a job with no JobManager here (404, 409 or 503). */
    async requireRunning(jobId: JobId): Promise<void> {
      if (!running.has(jobId)) throw await notRunning(jobId);
    },

    /** A savepoint of the running job: its path. */
    savepoint: (jobId: JobId): Promise<string> =>
      withJobManager(jobId, async (run) => (await unwrap(run.savepoints.savepoints.$post())).path),

    /** Stop-with-savepoint: resolves with the savepoint's path once the job ended. */
    stopWithSavepoint: (jobId: JobId): Promise<string> =>
      withJobManager(jobId, async (run) => {
        const outcome = await unwrap(run.stops.stop.$post({ json: { savepoint: true } }));
        if (!outcome.savepoint)
          throw new FlotillaError(
            ErrorCode.CONFLICT,
            `job ${jobId} ended ${outcome.state} without the stop's savepoint${outcome.error ? `: ${outcome.error.message}` : ""}`,
          );
        return outcome.savepoint;
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
      retention.stop();
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
