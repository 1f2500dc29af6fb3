/**
 * The Dispatcher's contract: Flink's REST monitoring and control API (at Flink's paths and again
 * under `/v1/`) plus flotilla's own routes, the messages, and `DispatcherApp`, the type the CLI's
 * and the tests' clients are typed from. The Dispatcher mounts `dispatcherRoutes(handlers)`.
 *
 * Flink's bodies are in flink_cluster.ts, flink_jobs.ts and flink_async.ts (Flink's JSON field
 * names; what flotilla adds sits under a `flotilla` key). flotilla's own routes: `/healthz`,
 * `POST /artifacts` (the bundled job as the raw body) and `GET /artifacts/:artifact`, `POST /jobs`
 * (submission, Flink's `DispatcherGateway.submitJob` with flotilla's body), `/jobs/:jobid/results`,
 * and `/metrics` (Prometheus text). `resource-requirements` is Flink's. Path parameters carry
 * Flink's names (`:jobid`, `:vertexid`, `:triggerid`, `:taskmanagerid`). Errors are
 * `{"errors": [...], "code": "..."}` with Flink's status codes (404 for an unknown job).
 */
import { z } from "zod";
import {
  Admission,
  ErrorCode,
  FlotillaError,
  type JobId,
  type Logger,
  type TaskManagerId,
} from "../core/mod.ts";
import { body, createBlock, params, query, readBodyBytes, reply } from "../rpc/mod.ts";
import {
  type Answer,
  artifactIdSchema,
  jobIdSchema,
  jobSecretsSchema,
  taskManagerIdSchema,
  vertexIdSchema,
} from "./common.ts";
import {
  type AsynchronousOperationResult,
  cancelModeQuerySchema,
  type EmptyResponseBody,
  type SavepointTriggerRequest,
  type StopWithSavepointRequest,
  savepointTriggerRequestSchema,
  stopWithSavepointRequestSchema,
  type TriggerResponse,
  triggerIdParamSchema,
} from "./flink_async.ts";
import type {
  ClusterConfigurationInfo,
  ClusterOverviewWithVersion,
  DashboardConfiguration,
  FlinkTaskManagerDetailsInfo,
  FlinkTaskManagersInfo,
} from "./flink_cluster.ts";
import type {
  JobConfigInfo,
  JobDetailsInfo,
  JobIdsWithStatusOverview,
  JobPlanInfo,
  MultipleJobsDetails,
} from "./flink_jobs.ts";
import type {
  JobVertexBackPressureInfo,
  JobVertexDetailsInfo,
  WatermarksInfo,
} from "./flink_vertices.ts";
import {
  type CheckpointConfigInfo,
  type CheckpointingStatistics,
  type CheckpointStatistics,
  type ExceptionsQuery,
  exceptionsQuerySchema,
  type JobExceptions,
  type TaskCheckpointWithSubtasks,
} from "./job_history.ts";
import {
  type CollectedResults,
  type ResourceRequirements,
  resourceRequirementsSchema,
} from "./jobmanager.ts";
import { type MetricQueryHandlers, metricQueryRoutes } from "./metric_queries.ts";

/** Artifacts are at most this big (a bundled job is usually a few kB). */
export const MAX_ARTIFACT_BYTES = 16 * 1024 * 1024;

// ---- messages ----------------------------------------------------------------------------------

export const submitJobSchema = z.strictObject({
  /** sha256 of an artifact uploaded with POST /artifacts. */
  artifact: artifactIdSchema,
  args: z
    .record(z.string().min(1).max(256), z.string().max(65_536))
    .refine((args) => Object.keys(args).length <= 256, "at most 256 job arguments")
    .default({}),
  parallelism: z.number().int().min(1).max(32_768).optional(),
  /** A savepoint path to start from, as `flotilla savepoint` printed it. */
  savepoint: z.string().min(1).max(1024).optional(),
  /**
   * The job's own secrets (`flotilla run --secret name=file`): its code reads them with
   * `env.secret(name)`, no other job can, and no answer, log or job listing shows them.
   */
  secrets: jobSecretsSchema.optional(),
});
export type SubmitJob = z.output<typeof submitJobSchema>;

export interface JobSubmitted {
  jobId: JobId;
}

export interface ArtifactUploaded {
  artifact: string;
  size: number;
  /** False when the cluster already had these bytes. */
  created: boolean;
}

/** Most jobs one page of `GET /jobs` lists (`?limit=`; 100 when not given). */
export const MAX_JOBS_PAGE = 1000;

/** `GET /jobs?limit=&after=` (flotilla's paging on Flink's route): at most `limit` jobs, after `after`. */
export const jobsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_JOBS_PAGE).optional(),
  /** The `next` of the previous page: the last job it listed. */
  after: jobIdSchema.optional(),
});
export type JobsQuery = z.output<typeof jobsQuerySchema>;

export interface DispatcherHealth {
  ok: true;
}

/** `:jobid` as Flink names it: 32 lowercase hex digits. */
export const jidParamSchema = z.object({ jobid: jobIdSchema });
/**
 * `:vertexid`: the vertex's hex id (`vertexHexId` in core, what every body's `id` shows) or
 * flotilla's own vertex id (`<position>-<kind>` or the user's `.uid()`). 404 when neither.
 */
export const vertexParamSchema = z.object({ jobid: jobIdSchema, vertexid: vertexIdSchema });
export const savepointStatusParamSchema = z
  .object({ jobid: jobIdSchema })
  .merge(triggerIdParamSchema);
export const taskManagerParamSchema = z.object({ taskmanagerid: taskManagerIdSchema });
/** `:checkpointid` (and `:vertexid`, hex or flotilla's) of the checkpoint details routes. */
export const checkpointParamSchema = z.object({
  jobid: jobIdSchema,
  checkpointid: z.coerce.number().int().min(1),
});
export const checkpointVertexParamSchema = checkpointParamSchema.extend({
  vertexid: vertexIdSchema,
});

// ---- routes ------------------------------------------------------------------------------------

/** Flink's metric queries (metric_queries.ts) are the Dispatcher's too. */
export interface DispatcherHandlers extends MetricQueryHandlers {
  health(): Answer<DispatcherHealth>;
  /** `GET /config`. */
  config(): Answer<DashboardConfiguration>;
  /** `GET /overview`; the slot counts are 0 (and `flotilla.resourceManager` unreachable) when the RM does not answer. */
  overview(): Answer<ClusterOverviewWithVersion>;
  /** `GET /jobmanager/config`: the cluster's settings, secrets left out. */
  jobManagerConfig(): Answer<ClusterConfigurationInfo>;
  /** The ResourceManager's view; 503 UNAVAILABLE when it does not answer. */
  taskManagers(): Answer<FlinkTaskManagersInfo>;
  /** 404 NOT_FOUND when no such TaskManager is registered; 503 when the RM does not answer. */
  taskManager(tmId: TaskManagerId): Answer<FlinkTaskManagerDetailsInfo>;
  uploadArtifact(bytes: Uint8Array): Answer<ArtifactUploaded>;
  /** 404 NOT_FOUND when the cluster does not have it. */
  hasArtifact(artifact: string): Answer<boolean>;
  /** One page of jobs, newest first; BAD_REQUEST when `after` is no longer listed. */
  jobs(query: JobsQuery): Answer<JobIdsWithStatusOverview>;
  /** Every job the Dispatcher keeps, newest first (bounded by `jobstore.max-capacity`). */
  jobsOverview(): Answer<MultipleJobsDetails>;
  submit(request: SubmitJob): Answer<JobSubmitted>;
  /** 404 JOB_NOT_FOUND for a job this cluster does not know (or no longer keeps). */
  job(jobId: JobId): Answer<JobDetailsInfo>;
  plan(jobId: JobId): Answer<JobPlanInfo>;
  jobConfig(jobId: JobId): Answer<JobConfigInfo>;
  /** `vertex` as the route took it: hex or flotilla id. */
  vertex(jobId: JobId, vertex: string): Answer<JobVertexDetailsInfo>;
  watermarks(jobId: JobId, vertex: string): Answer<WatermarksInfo>;
  backPressure(jobId: JobId, vertex: string): Answer<JobVertexBackPressureInfo>;
  results(jobId: JobId): Answer<CollectedResults>;
  /** Checkpoint statistics (job_history.ts, the JobManager's or the ended job's archive). */
  checkpoints(jobId: JobId): Answer<CheckpointingStatistics>;
  /** 404 NOT_FOUND for a job without checkpointing, as Flink. */
  checkpointConfig(jobId: JobId): Answer<CheckpointConfigInfo>;
  /** 404 NOT_FOUND for a checkpoint not in the kept history. */
  checkpointDetails(jobId: JobId, checkpointId: number): Answer<CheckpointStatistics>;
  checkpointSubtasks(
    jobId: JobId,
    checkpointId: number,
    vertex: string,
  ): Answer<TaskCheckpointWithSubtasks>;
  /** Flink's JobExceptionsInfoWithHistory, at most `maxExceptions` entries (default 20). */
  exceptions(jobId: JobId, query: ExceptionsQuery): Answer<JobExceptions>;
  /** Starts canceling; 409 CONFLICT when the job already ended. */
  cancel(jobId: JobId, mode: "cancel" | "stop"): Answer<EmptyResponseBody>;
  /** Starts a savepoint (or a stop, with `cancel-job`); the same `triggerId` again answers the same operation. */
  triggerSavepoint(jobId: JobId, request: SavepointTriggerRequest): Answer<TriggerResponse>;
  /** Starts a stop-with-savepoint; 400 for `drain: true` (see StopWithSavepointRequest). */
  stop(jobId: JobId, request: StopWithSavepointRequest): Answer<TriggerResponse>;
  /** 404 NOT_FOUND for a trigger id this Dispatcher does not know (or no longer keeps). */
  savepointStatus(jobId: JobId, triggerId: string): Answer<AsynchronousOperationResult>;
  resourceRequirements(jobId: JobId): Answer<ResourceRequirements>;
  setResourceRequirements(
    jobId: JobId,
    requirements: ResourceRequirements,
  ): Answer<ResourceRequirements>;
  /** Prometheus text. */
  metrics(): Answer<string>;
}

/** Artifact uploads read at once (so at most 4 x MAX_ARTIFACT_BYTES held); more get 429. */
export const MAX_UPLOADING = 4;

/** Every route once, without a prefix: mounted at `/` and at `/v1`. */
function apiRoutes(h: DispatcherHandlers, uploads: Admission, log: Logger | undefined) {
  const jid = (c: { req: { valid(target: "param"): { jobid: JobId } } }) =>
    c.req.valid("param").jobid;
  return (
    createBlock(log ? { log } : {})
      // First: `/taskmanagers/metrics` is theirs, not a TaskManager's id.
      .route("/", metricQueryRoutes(h))
      .get("/healthz", async (c) => reply(c, await h.health()))
      .get("/config", async (c) => reply(c, await h.config()))
      .get("/overview", async (c) => reply(c, await h.overview()))
      .get("/jobmanager/config", async (c) => reply(c, await h.jobManagerConfig()))
      .get("/taskmanagers", async (c) => reply(c, await h.taskManagers()))
      .get("/taskmanagers/:taskmanagerid", params(taskManagerParamSchema), async (c) =>
        reply(c, await h.taskManager(c.req.valid("param").taskmanagerid)),
      )
      .post("/artifacts", async (c) => {
        // At most MAX_UPLOADING bodies held at once, each refused (413) past the limit.
        const uploaded = await uploads.admit(async () => {
          const bytes = await readBodyBytes(
            c,
            MAX_ARTIFACT_BYTES,
            "an artifact is one bundled job (usually a few kB): bundle fewer dependencies into it",
          );
          return await h.uploadArtifact(bytes);
        });
        return uploaded.created ? reply(c, uploaded, 201) : reply(c, uploaded, 200);
      })
      .get("/artifacts/:artifact", params(z.object({ artifact: artifactIdSchema })), async (c) => {
        const { artifact } = c.req.valid("param");
        if (!(await h.hasArtifact(artifact)))
          throw new FlotillaError(
            ErrorCode.NOT_FOUND,
            `no artifact ${artifact}: upload it with POST /artifacts`,
          );
        return reply(c, { artifact });
      })
      .get("/jobs", query(jobsQuerySchema), async (c) =>
        reply(c, await h.jobs(c.req.valid("query"))),
      )
      .get("/jobs/overview", async (c) => reply(c, await h.jobsOverview()))
      .post("/jobs", body(submitJobSchema), async (c) =>
        reply(c, await h.submit(c.req.valid("json")), 202),
      )
      .get("/jobs/:jobid", params(jidParamSchema), async (c) => reply(c, await h.job(jid(c))))
      .patch("/jobs/:jobid", params(jidParamSchema), query(cancelModeQuerySchema), async (c) =>
        reply(c, await h.cancel(jid(c), c.req.valid("query").mode ?? "cancel"), 202),
      )
      .get("/jobs/:jobid/plan", params(jidParamSchema), async (c) => reply(c, await h.plan(jid(c))))
      .get("/jobs/:jobid/config", params(jidParamSchema), async (c) =>
        reply(c, await h.jobConfig(jid(c))),
      )
      .get("/jobs/:jobid/results", params(jidParamSchema), async (c) =>
        reply(c, await h.results(jid(c))),
      )
      .get("/jobs/:jobid/checkpoints", params(jidParamSchema), async (c) =>
        reply(c, await h.checkpoints(jid(c))),
      )
      .get("/jobs/:jobid/checkpoints/config", params(jidParamSchema), async (c) =>
        reply(c, await h.checkpointConfig(jid(c))),
      )
      .get(
        "/jobs/:jobid/checkpoints/details/:checkpointid",
        params(checkpointParamSchema),
        async (c) => reply(c, await h.checkpointDetails(jid(c), c.req.valid("param").checkpointid)),
      )
      .get(
        "/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid",
        params(checkpointVertexParamSchema),
        async (c) => {
          const { checkpointid, vertexid } = c.req.valid("param");
          return reply(c, await h.checkpointSubtasks(jid(c), checkpointid, vertexid));
        },
      )
      .get(
        "/jobs/:jobid/exceptions",
        params(jidParamSchema),
        query(exceptionsQuerySchema),
        async (c) => reply(c, await h.exceptions(jid(c), c.req.valid("query"))),
      )
      .get("/jobs/:jobid/vertices/:vertexid", params(vertexParamSchema), async (c) =>
        reply(c, await h.vertex(jid(c), c.req.valid("param").vertexid)),
      )
      .get("/jobs/:jobid/vertices/:vertexid/watermarks", params(vertexParamSchema), async (c) =>
        reply(c, await h.watermarks(jid(c), c.req.valid("param").vertexid)),
      )
      .get("/jobs/:jobid/vertices/:vertexid/backpressure", params(vertexParamSchema), async (c) =>
        reply(c, await h.backPressure(jid(c), c.req.valid("param").vertexid)),
      )
      .post(
        "/jobs/:jobid/savepoints",
        params(jidParamSchema),
        body(savepointTriggerRequestSchema, { emptyAs: {} }),
        async (c) => reply(c, await h.triggerSavepoint(jid(c), c.req.valid("json")), 202),
      )
      .get("/jobs/:jobid/savepoints/:triggerid", params(savepointStatusParamSchema), async (c) =>
        reply(c, await h.savepointStatus(jid(c), c.req.valid("param").triggerid)),
      )
      .post(
        "/jobs/:jobid/stop",
        params(jidParamSchema),
        body(stopWithSavepointRequestSchema, { emptyAs: {} }),
        async (c) => reply(c, await h.stop(jid(c), c.req.valid("json")), 202),
      )
      .get("/jobs/:jobid/resource-requirements", params(jidParamSchema), async (c) =>
        reply(c, await h.resourceRequirements(jid(c))),
      )
      .put(
        "/jobs/:jobid/resource-requirements",
        params(jidParamSchema),
        body(resourceRequirementsSchema),
        async (c) => reply(c, await h.setResourceRequirements(jid(c), c.req.valid("json"))),
      )
      .get("/metrics", async (c) =>
        c.text(await h.metrics(), 200, { "content-type": "text/plain; version=0.0.4" }),
      )
  );
}

/** The Dispatcher's app: every route at Flink's path and again under `/v1` (Flink's versioned prefix). */
export function dispatcherRoutes(h: DispatcherHandlers, { log }: { log?: Logger } = {}) {
  const uploads = new Admission(MAX_UPLOADING, "artifact uploads");
  const api = apiRoutes(h, uploads, log);
  return createBlock(log ? { log } : {})
    .route("/", api)
    .route("/v1", api);
}

export type DispatcherApp = ReturnType<typeof dispatcherRoutes>;
