/**
 * The Dispatcher: the cluster's front door. It stores uploaded artifacts, persists submitted
 * jobs, starts one JobManager per job in this process (each served on `jm.<jobId>`), answers the
 * REST API, writes each job's result before forgetting it, and, when it becomes leader, starts
 * again every job that has no result yet, from its latest checkpoint. One Dispatcher lives for
 * one leadership term (cluster/role_blocks.ts): on losing it, it suspends its JobManagers.
 */

import type { Fabric, Served } from "../cluster/mod.ts";
import { ErrorCode, FlotillaError, type Logger, newJobId, silentLogger } from "../core/mod.ts";
import {
  type CompletedCheckpoint,
  loadArtifact,
  loadCheckpoint,
} from "../dataflow/internal_mod.ts";
import {
  createJobMaster,
  type JobMaster,
  type JobOutcome,
  jobManagerApp,
  type SchedulerOptions,
} from "../jobmanager/mod.ts";
import type { DispatcherStores, JobRecord, JobResultRecord } from "./types.ts";

export interface DispatcherOptions {
  clusterId: string;
  fabric: Fabric;
  stores: DispatcherStores;
  /** Fails a job whose slots do not come within this long. @default 300000 */
  slotRequestTimeoutMs?: number;
  /** How many finished jobs keep their collected results in memory. @default 50 */
  retainedResults?: number;
  /** The cluster's scheduler settings (`jobmanager.scheduler`, ...). @default the default scheduler */
  scheduler?: SchedulerOptions;
  log?: Logger;
}

interface Running {
  record: JobRecord;
  jm: JobMaster;
  served: Served;
}

export function createDispatcher(options: DispatcherOptions) {
  const {
    clusterId,
    fabric,
    stores,
    slotRequestTimeoutMs = 300_000,
    retainedResults = 50,
  } = options;
  const log = (options.log ?? silentLogger).child({ role: "dispatcher", cluster: clusterId });
  const running = new Map<string, Running>();
  /** Collected results of recently ended jobs, oldest first. */
  const endedResults = new Map<string, Record<string, unknown[]>>();
  /** The vertices (with subtask states) of recently ended jobs, for their details. */
  const endedVertices = new Map<string, unknown>();

  async function start(
    record: JobRecord,
    restoreFrom?: CompletedCheckpoint,
    firstAttempt = 0,
  ): Promise<JobMaster> {
    const bytes = await stores.blobs.get(record.artifact);
    if (!bytes)
      throw new FlotillaError(
        ErrorCode.NOT_FOUND,
        `artifact ${record.artifact} is not in the blob store: upload it with POST /artifacts`,
      );
    const job = await loadArtifact(bytes, { name: `artifact ${record.artifact.slice(0, 12)}` });
    const graph = job.graph({
      args: record.args,
      ...(record.parallelism ? { parallelism: record.parallelism } : {}),
    });
    const jm = createJobMaster({
      // The adaptive scheduler rebuilds the graph with each vertex at the parallelism the slots
      // and its bounds allow; so do TaskManagers, from the task descriptor.
      rebuild: (vertexParallelism) =>
        job.graph({
          args: record.args,
          ...(record.parallelism ? { parallelism: record.parallelism } : {}),
          vertexParallelism,
        }),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      clusterId,
      jobId: record.jobId,
      graph,
      artifact: record.artifact,
      args: record.args,
      ...(record.parallelism ? { parallelism: record.parallelism } : {}),
      ...(restoreFrom ? { restoreFrom } : {}),
      ...(record.resourceRequirements ? { resourceRequirements: record.resourceRequirements } : {}),
      // Kept with the job's record, so the next leader's JobManager keeps the bounds.
      onResourceRequirements: async (resourceRequirements) => {
        record.resourceRequirements = resourceRequirements;
        await stores.jobs.put(record);
      },
      firstAttempt,
      transportFor: fabric.transportFor,
      snapshots: stores.snapshots,
      onCheckpoint: (cp) => stores.checkpoints.add(cp),
      slotRequestTimeoutMs,
      log,
    });
    const served = fabric.serve(jm.subject, jobManagerApp(jm));
    running.set(record.jobId, { record, jm, served });
    void jm.outcome.then((outcome) => ended(record, outcome));
    // Retried by the JobManager until the ResourceManager answers (it may be electing itself).
    if (!(await jm.start()))
      log.warn({ job: record.jobId }, "declaring requirements failed; the JobManager retries");
    return jm;
  }

  async function ended(record: JobRecord, outcome: JobOutcome): Promise<void> {
    const result: JobResultRecord = {
      jobId: record.jobId,
      name: running.get(record.jobId)?.jm.graph.options.name ?? record.name,
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
    endedResults.set(record.jobId, outcome.results);
    const vertices = running.get(record.jobId)?.jm.info().vertices;
    if (vertices) endedVertices.set(record.jobId, vertices);
    while (endedResults.size > retainedResults) {
      const oldest = endedResults.keys().next().value!;
      endedResults.delete(oldest);
      endedVertices.delete(oldest);
    }
    log.info({ job: record.jobId, state: result.state }, "job ended");
    const entry = running.get(record.jobId);
    running.delete(record.jobId);
    // Late reports from TaskManagers still find the JM for a moment.
    setTimeout(() => void entry?.served.stop(), 2000).unref?.();
  }

  return {
    log,
    stores,
    running: () => [...running.values()],
    job: (jobId: string) => running.get(jobId)?.jm,

    /** Whether the blob store has this artifact: a client then skips the upload. */
    async hasArtifact(artifact: string): Promise<boolean> {
      return stores.blobs.has(artifact);
    },

    async uploadArtifact(
      bytes: Uint8Array,
    ): Promise<{ artifact: string; size: number; created: boolean }> {
      if (bytes.byteLength === 0)
        throw new FlotillaError(
          ErrorCode.BAD_REQUEST,
          "the artifact is empty: send the bundled job as the request body",
        );
      const { artifactHash } = await import("../dataflow/internal_mod.ts");
      const hash = await artifactHash(bytes);
      const exists = await stores.blobs.has(hash);
      if (!exists) await stores.blobs.put(bytes);
      return { artifact: hash, size: bytes.byteLength, created: !exists };
    },

    async submit(request: {
      artifact: string;
      args: Record<string, string>;
      parallelism?: number;
      savepoint?: string;
    }): Promise<string> {
      if (!(await stores.blobs.has(request.artifact))) {
        throw new FlotillaError(
          ErrorCode.NOT_FOUND,
          `artifact ${request.artifact} is not in the blob store: upload it with POST /artifacts first`,
        );
      }
      const bytes = (await stores.blobs.get(request.artifact))!;
      const job = await loadArtifact(bytes, { name: `artifact ${request.artifact.slice(0, 12)}` });
      // Build once here, so a bad job is a 400 now rather than a failed job later.
      const graph = job.graph({
        args: request.args,
        ...(request.parallelism ? { parallelism: request.parallelism } : {}),
      });
      const restoreFrom = request.savepoint
        ? await loadCheckpoint(stores.snapshots, request.savepoint)
        : undefined;
      const record: JobRecord = {
        jobId: newJobId(),
        name: graph.options.name,
        artifact: request.artifact,
        args: request.args,
        ...(request.parallelism ? { parallelism: request.parallelism } : {}),
        ...(request.savepoint ? { savepoint: request.savepoint } : {}),
        submittedAt: Date.now(),
      };
      await stores.jobs.put(record);
      if (restoreFrom) await stores.checkpoints.add({ ...restoreFrom, jobId: record.jobId });
      await start(record, restoreFrom);
      return record.jobId;
    },

    /** As leader: start every stored job that has no result, from its latest checkpoint. */
    async recover(): Promise<string[]> {
      const recovered: string[] = [];
      for (const record of await stores.jobs.list()) {
        if (running.has(record.jobId) || (await stores.results.get(record.jobId))) continue;
        const latest = await stores.checkpoints.latest(record.jobId);
        log.info({ job: record.jobId, checkpoint: latest?.checkpointId }, "recovering job");
        // Attempts of the recovered JobManager start at a fresh epoch (seconds since 2026), above
        // anything the lost one deployed.
        await start(record, latest, Math.floor((Date.now() - Date.UTC(2026, 0, 1)) / 1000) * 1000);
        recovered.push(record.jobId);
      }
      return recovered;
    },

    async details(jobId: string) {
      const entry = running.get(jobId);
      if (entry) return { ...entry.jm.info(), submittedAt: entry.record.submittedAt };
      const result = await stores.results.get(jobId);
      if (result)
        return {
          ...result,
          ...(endedVertices.has(jobId) ? { vertices: endedVertices.get(jobId) } : {}),
        };
      throw new FlotillaError(
        ErrorCode.JOB_NOT_FOUND,
        `no job ${jobId}: 'flotilla list' shows the jobs this cluster knows`,
      );
    },

    async results(jobId: string): Promise<Record<string, unknown[]>> {
      const entry = running.get(jobId);
      if (entry) return entry.jm.results();
      const kept = endedResults.get(jobId);
      if (kept) return kept;
      if (await stores.results.get(jobId)) return {};
      throw new FlotillaError(ErrorCode.JOB_NOT_FOUND, `no job ${jobId}`);
    },

    async list() {
      const live = [...running.values()].map((r) => ({
        id: r.record.jobId,
        name: r.jm.graph.options.name,
        state: r.jm.status(),
        submittedAt: r.record.submittedAt,
      }));
      const done = (await stores.results.list()).map((r) => ({
        id: r.jobId,
        name: r.name,
        state: r.state,
        submittedAt: r.submittedAt,
        finishedAt: r.finishedAt,
      }));
      return [...live, ...done.filter((d) => !running.has(d.id))].sort(
        (a, b) => b.submittedAt - a.submittedAt,
      );
    },

    /** The job's JobManager, or the typed error saying why there is none (unknown, or ended). */
    async control(jobId: string): Promise<JobMaster> {
      const entry = running.get(jobId);
      if (entry) return entry.jm;
      const result = await stores.results.get(jobId);
      if (result)
        throw new FlotillaError(ErrorCode.CONFLICT, `job ${jobId} already ${result.state}`);
      throw new FlotillaError(
        ErrorCode.JOB_NOT_FOUND,
        `no job ${jobId}: 'flotilla list' shows the jobs this cluster knows`,
      );
    },

    /**
     * Leadership lost, or the process stops: every JobManager stops serving and is suspended,
     * without a result (its job is not over). The next leader recovers the jobs.
     */
    async suspend(): Promise<void> {
      const jobs = [...running.values()];
      running.clear();
      for (const { jm } of jobs) jm.suspend();
      await Promise.all(jobs.map(({ served }) => served.stop()));
      if (jobs.length > 0)
        log.info(
          { jobs: jobs.map(({ record }) => record.jobId) },
          "JobManagers suspended: the next leader recovers their jobs",
        );
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
