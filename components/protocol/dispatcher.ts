/**
 * The Dispatcher's contract: its REST API (HTTP on `rest.port`, and NATS on
 * `subjects.dispatcher(cluster)`), the messages, and `DispatcherApp`, the type the CLI's and the
 * tests' clients are typed from. The Dispatcher mounts `dispatcherRoutes(handlers)`.
 *
 * Upload an artifact (`POST /artifacts`, the bundled job as the raw body), submit a job
 * (`POST /jobs`, Flink's `DispatcherGateway.submitJob`), list and inspect jobs, cancel
 * (`PATCH /jobs/:jobId?mode=cancel`), savepoint, stop, and the adaptive scheduler's
 * `resource-requirements`. Errors are `{"errors": [...], "code": "..."}` with a 4xx for bad input.
 */
import { z } from "zod";
import {
  Admission,
  ErrorCode,
  FlotillaError,
  type JobId,
  type JobState,
  type Logger,
} from "../core/mod.ts";
import { body, createBlock, params, query, readBodyBytes, reply } from "../rpc/mod.ts";
import {
  type Answer,
  artifactIdSchema,
  jobIdParamSchema,
  jobIdSchema,
  jobSecretsSchema,
} from "./common.ts";
import {
  type CancelAccepted,
  type CollectedResults,
  type ParallelismBounds,
  type ResourceRequirements,
  resourceRequirementsSchema,
  type SavepointTaken,
  type StopJob,
  stopJobSchema,
  type VertexDetails,
} from "./jobmanager.ts";
import type { TaskManagerInfo } from "./resourcemanager.ts";

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

/** `GET /jobs?limit=&after=`: a page of at most `limit` jobs, those after job `after`. */
export const jobsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_JOBS_PAGE).optional(),
  /** The `next` of the previous page: the last job it listed. */
  after: jobIdSchema.optional(),
});
export type JobsQuery = z.output<typeof jobsQuerySchema>;

/** `GET /jobs`: newest first; `next` (pass it as `after`) when more jobs follow. */
export interface JobList {
  jobs: JobSummary[];
  next?: JobId;
}

/** Each entry of `GET /jobs`, newest first. */
export interface JobSummary {
  id: JobId;
  name: string;
  state: JobState;
  submittedAt: number;
  finishedAt?: number;
}

/** `GET /jobs/:jobId`: a running job as its JobManager sees it, or an ended job's result. */
export interface JobDetails {
  jobId: JobId;
  name: string;
  state: JobState;
  submittedAt: number;
  restarts: number;
  rescales: number;
  checkpoints: number;
  /** Per vertex of the current (or last) attempt; empty when no longer known. */
  vertices: VertexDetails[];
  /** A running job: its attempt, scheduler and what it waits for. */
  attempt?: number;
  scheduler?: "default" | "adaptive" | "reactive";
  parallelismBounds?: ParallelismBounds;
  lastCheckpoint?: { id: number; timestamp: number };
  waitingFor?: string;
  /** An ended job: when, why, and the savepoint a stop took. */
  finishedAt?: number;
  error?: { code: string; message: string };
  savepoint?: string;
}

/** `GET /overview`: the cluster at a glance. */
export interface ClusterOverview {
  taskmanagers: number;
  slotsTotal: number;
  slotsAvailable: number;
  jobsRunning: number;
  jobsFinished: number;
  jobsCanceled: number;
  jobsFailed: number;
  resourceManager: "up" | "unreachable";
}

export const cancelQuerySchema = z.strictObject({ mode: z.enum(["cancel"]) });

export interface JobStopped {
  jobId: JobId;
  state: JobState;
  savepoint?: string;
}

export interface DispatcherHealth {
  ok: true;
}

/** `GET /config`: the settings a client may need (no secrets). */
export type ClusterConfig = Record<string, string | number | boolean>;

// ---- routes ------------------------------------------------------------------------------------

export interface DispatcherHandlers {
  health(): Answer<DispatcherHealth>;
  config(): Answer<ClusterConfig>;
  overview(): Answer<ClusterOverview>;
  /** The ResourceManager's view; 503 UNAVAILABLE when it does not answer. */
  taskManagers(): Answer<TaskManagerInfo[]>;
  uploadArtifact(bytes: Uint8Array): Answer<ArtifactUploaded>;
  /** 404 NOT_FOUND when the cluster does not have it. */
  hasArtifact(artifact: string): Answer<boolean>;
  /** One page of jobs, newest first; BAD_REQUEST when `after` is no longer listed. */
  jobs(query: JobsQuery): Answer<JobList>;
  submit(request: SubmitJob): Answer<JobSubmitted>;
  job(jobId: JobId): Answer<JobDetails>;
  results(jobId: JobId): Answer<CollectedResults>;
  cancel(jobId: JobId): Answer<CancelAccepted>;
  savepoint(jobId: JobId): Answer<SavepointTaken>;
  stop(jobId: JobId, request: StopJob): Answer<JobStopped>;
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

export function dispatcherRoutes(h: DispatcherHandlers, { log }: { log?: Logger } = {}) {
  const uploads = new Admission(MAX_UPLOADING, "artifact uploads");
  return createBlock(log ? { log } : {})
    .get("/healthz", async (c) => reply(c, await h.health()))
    .get("/config", async (c) => reply(c, await h.config()))
    .get("/overview", async (c) => reply(c, await h.overview()))
    .get("/taskmanagers", async (c) => reply(c, { taskmanagers: await h.taskManagers() }))
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
    .get("/jobs", query(jobsQuerySchema), async (c) => reply(c, await h.jobs(c.req.valid("query"))))
    .post("/jobs", body(submitJobSchema), async (c) =>
      reply(c, await h.submit(c.req.valid("json")), 202),
    )
    .get("/jobs/:jobId", params(jobIdParamSchema), async (c) =>
      reply(c, await h.job(c.req.valid("param").jobId)),
    )
    .get("/jobs/:jobId/results", params(jobIdParamSchema), async (c) =>
      reply(c, await h.results(c.req.valid("param").jobId)),
    )
    .patch("/jobs/:jobId", params(jobIdParamSchema), query(cancelQuerySchema), async (c) =>
      reply(c, await h.cancel(c.req.valid("param").jobId), 202),
    )
    .post("/jobs/:jobId/savepoints", params(jobIdParamSchema), async (c) =>
      reply(c, await h.savepoint(c.req.valid("param").jobId), 201),
    )
    .post("/jobs/:jobId/stop", params(jobIdParamSchema), body(stopJobSchema), async (c) =>
      reply(c, await h.stop(c.req.valid("param").jobId, c.req.valid("json"))),
    )
    .get("/jobs/:jobId/resource-requirements", params(jobIdParamSchema), async (c) =>
      reply(c, await h.resourceRequirements(c.req.valid("param").jobId)),
    )
    .put(
      "/jobs/:jobId/resource-requirements",
      params(jobIdParamSchema),
      body(resourceRequirementsSchema),
      async (c) =>
        reply(c, await h.setResourceRequirements(c.req.valid("param").jobId, c.req.valid("json"))),
    )
    .get("/metrics", async (c) =>
      c.text(await h.metrics(), 200, { "content-type": "text/plain; version=0.0.4" }),
    );
}

export type DispatcherApp = ReturnType<typeof dispatcherRoutes>;
