/**
 * Flink's REST bodies about jobs (`/jobs`, `/jobs/overview`, `/jobs/:jid` with its vertices,
 * plan and config; one vertex's own routes are in flink_vertices.ts), in Flink's JSON field names: a TS type per body plus
 * the zod schema tests validate the Dispatcher's answers against. What flotilla adds sits under
 * one `flotilla` key per body. Where Flink's generated reference differs from what Flink sends,
 * this follows what Flink sends and says so.
 */
import { z } from "zod";
import type { JobId } from "../core/mod.ts";
import type { ParallelismBounds } from "./jobmanager.ts";

export const int = z.number().int();
export const long = z.number().int();
const parallelismBoundsSchema = z.object({ lowerBound: int, upperBound: int });

/** Flink's JobStatus, every value (flotilla's JobState is a subset: no INITIALIZING, RECONCILING). */
export const FLINK_JOB_STATUSES = [
  "INITIALIZING",
  "CREATED",
  "RUNNING",
  "FAILING",
  "FAILED",
  "CANCELLING",
  "CANCELED",
  "FINISHED",
  "RESTARTING",
  "SUSPENDED",
  "RECONCILING",
] as const;
export type FlinkJobStatus = (typeof FLINK_JOB_STATUSES)[number];
export const flinkJobStatusSchema = z.enum(FLINK_JOB_STATUSES);

/** Flink's ExecutionState, every value (flotilla's TaskState is a subset). */
export const FLINK_EXECUTION_STATES = [
  "CREATED",
  "SCHEDULED",
  "DEPLOYING",
  "RUNNING",
  "FINISHED",
  "CANCELING",
  "CANCELED",
  "FAILED",
  "RECONCILING",
  "INITIALIZING",
] as const;
export type FlinkExecutionState = (typeof FLINK_EXECUTION_STATES)[number];
export const flinkExecutionStateSchema = z.enum(FLINK_EXECUTION_STATES);

/** How many subtasks are in each state: every ExecutionState is a key (0 when none), as Flink sends. */
export type StatusCounts = Record<FlinkExecutionState, number>;
const statusCountsSchema = z.object(
  Object.fromEntries(FLINK_EXECUTION_STATES.map((s) => [s, int])) as Record<
    FlinkExecutionState,
    typeof int
  >,
);

const jobIdString = z.string().regex(/^[0-9a-f]{32}$/);
/** A vertex's id in this API: `vertexHexId(flotillaVertexId)` from core, 32 hex like Flink's. */
export const vertexHexIdSchema = z.string().regex(/^[0-9a-f]{32}$/);

// ---- GET /jobs: JobIdsWithStatusOverview --------------------------------------------------------

/** `GET /jobs?limit=&after=`: newest first. `next` (pass it as `after`) is flotilla's paging. */
export interface JobIdsWithStatusOverview {
  jobs: { id: JobId; status: FlinkJobStatus }[];
  next?: JobId;
}
export const jobIdsWithStatusOverviewSchema = z.object({
  jobs: z.array(z.object({ id: jobIdString, status: flinkJobStatusSchema })),
  next: jobIdString.optional(),
});

// ---- GET /jobs/overview: MultipleJobsDetails ----------------------------------------------------

/**
 * One job of `GET /jobs/overview`. Flink's generated reference lists `jobId`, `jobName`, ...
 * but Flink's JobDetails serializer sends these names (`jid`, `name`, `start-time`, ...,
 * `last-modification`, and `tasks` by lower-case state with `total`): this follows what Flink sends.
 * `end-time` and `duration` of a job not ended: -1 and the time since it started.
 */
export interface JobOverview {
  jid: JobId;
  name: string;
  state: FlinkJobStatus;
  "start-time": number;
  "end-time": number;
  duration: number;
  "last-modification": number;
  tasks: Record<Lowercase<FlinkExecutionState> | "total", number>;
}
export const jobOverviewSchema = z.object({
  jid: jobIdString,
  name: z.string(),
  state: flinkJobStatusSchema,
  "start-time": long,
  "end-time": long,
  duration: long,
  "last-modification": long,
  tasks: z.object({
    total: int,
    ...Object.fromEntries(FLINK_EXECUTION_STATES.map((s) => [s.toLowerCase(), int])),
  }),
});

/** `GET /jobs/overview` (Flink's MultipleJobsDetails): every job the Dispatcher keeps, newest first. */
export interface MultipleJobsDetails {
  jobs: JobOverview[];
}
export const multipleJobsDetailsSchema = z.object({ jobs: z.array(jobOverviewSchema) });

// ---- vertices -----------------------------------------------------------------------------------

/**
 * Flink's IOMetricsInfo. Records are the tasks' counts; bytes are 0 with `*-complete: false`
 * until the tasks report byte counts.
 */
export interface IOMetricsInfo {
  "read-bytes": number;
  "read-bytes-complete": boolean;
  "write-bytes": number;
  "write-bytes-complete": boolean;
  "read-records": number;
  "read-records-complete": boolean;
  "write-records": number;
  "write-records-complete": boolean;
}
export const ioMetricsInfoSchema = z.object({
  "read-bytes": long,
  "read-bytes-complete": z.boolean(),
  "write-bytes": long,
  "write-bytes-complete": z.boolean(),
  "read-records": long,
  "read-records-complete": z.boolean(),
  "write-records": long,
  "write-records-complete": z.boolean(),
});

/** What flotilla adds to a vertex: its own id (routes accept it as well as the hex id). */
export interface VertexExtras {
  /** flotilla's vertex id (`<position>-<kind>` or the user's `.uid()`), as resource-requirements keys it. */
  vertexId: string;
  /** Adaptive jobs: this vertex's bounds. */
  parallelismBounds?: ParallelismBounds;
}
export const vertexExtrasSchema = z.object({
  vertexId: z.string(),
  parallelismBounds: parallelismBoundsSchema.optional(),
});

/**
 * One vertex of `GET /jobs/:jid` (Flink's JobDetailsInfo.JobVertexDetailsInfo, as the job page
 * gets it; the generated reference shows the vertex route's body here instead). Times are epoch
 * ms, -1 when not reached; `maxParallelism` is flotilla's key-group count bound (-1 if none).
 */
export interface JobDetailsVertexInfo {
  id: string;
  name: string;
  maxParallelism: number;
  parallelism: number;
  status: FlinkExecutionState;
  "start-time": number;
  "end-time": number;
  duration: number;
  tasks: StatusCounts;
  metrics: IOMetricsInfo;
  flotilla: VertexExtras;
}
export const jobDetailsVertexInfoSchema = z.object({
  id: vertexHexIdSchema,
  name: z.string(),
  maxParallelism: int,
  parallelism: int,
  status: flinkExecutionStateSchema,
  "start-time": long,
  "end-time": long,
  duration: long,
  tasks: statusCountsSchema,
  metrics: ioMetricsInfoSchema,
  flotilla: vertexExtrasSchema,
});

// ---- GET /jobs/:jid/plan: JobPlanInfo -----------------------------------------------------------

/** An input of a plan node: the upstream vertex (hex id) and how records are shipped. */
export interface JobPlanInput {
  num: number;
  id: string;
  ship_strategy: string;
  exchange: string;
}

/** A vertex of the plan, as Flink's JsonPlanGenerator writes it. */
export interface JobPlanNode {
  id: string;
  parallelism: number;
  operator: string;
  operator_strategy: string;
  description: string;
  inputs?: JobPlanInput[];
  optimizer_properties: Record<string, never>;
}

/** The job's dataflow (the generated reference says string; Flink sends this object). */
export interface JobPlan {
  jid: JobId;
  name: string;
  type: "STREAMING" | "BATCH";
  nodes: JobPlanNode[];
}
export const jobPlanSchema = z.object({
  jid: jobIdString,
  name: z.string(),
  type: z.enum(["STREAMING", "BATCH"]),
  nodes: z.array(
    z.object({
      id: vertexHexIdSchema,
      parallelism: int,
      operator: z.string(),
      operator_strategy: z.string(),
      description: z.string(),
      inputs: z
        .array(
          z.object({
            num: int,
            id: vertexHexIdSchema,
            ship_strategy: z.string(),
            exchange: z.string(),
          }),
        )
        .optional(),
      optimizer_properties: z.object({}),
    }),
  ),
});

/** `GET /jobs/:jid/plan` (Flink's JobPlanInfo). */
export interface JobPlanInfo {
  plan: JobPlan;
}
export const jobPlanInfoSchema = z.object({ plan: jobPlanSchema });

// ---- GET /jobs/:jid: JobDetailsInfo -------------------------------------------------------------

/**
 * What flotilla knows of a job that Flink's JobDetailsInfo has no field for. A running job:
 * its attempt, scheduler and what it waits for; an ended one: why it failed, the savepoint a
 * stop took.
 */
export interface JobDetailsExtras {
  restarts: number;
  rescales: number;
  /** Completed checkpoints (the checkpoints route has the history). */
  checkpoints: number;
  attempt?: number;
  scheduler?: "default" | "adaptive" | "reactive";
  /** Adaptive jobs: the lowest lower and the highest upper bound of their vertices. */
  parallelismBounds?: ParallelismBounds;
  lastCheckpoint?: { id: number; timestamp: number };
  /** While created: what the job waits for (slots, resources). */
  waitingFor?: string;
  /** A failed job: flotilla's error code and message. */
  error?: { code: string; message: string };
  /** The savepoint a stop-with-savepoint took. */
  savepoint?: string;
}
const jobDetailsExtrasSchema = z.object({
  restarts: int,
  rescales: int,
  checkpoints: int,
  attempt: int.optional(),
  scheduler: z.enum(["default", "adaptive", "reactive"]).optional(),
  parallelismBounds: parallelismBoundsSchema.optional(),
  lastCheckpoint: z.object({ id: long, timestamp: long }).optional(),
  waitingFor: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  savepoint: z.string().optional(),
});

/**
 * `GET /jobs/:jid` (Flink's JobDetailsInfo). `timestamps` has every JobStatus as a key (epoch
 * ms it was entered, 0 if never, as Flink), `status-counts` every ExecutionState; `end-time` is
 * -1 while the job runs; `maxParallelism` -1 (flotilla has no job-wide bound); `isStoppable`
 * true while a stop-with-savepoint can be asked for (the job runs).
 */
export interface JobDetailsInfo {
  jid: JobId;
  name: string;
  isStoppable: boolean;
  state: FlinkJobStatus;
  "start-time": number;
  "end-time": number;
  duration: number;
  maxParallelism: number;
  now: number;
  timestamps: Record<FlinkJobStatus, number>;
  vertices: JobDetailsVertexInfo[];
  "status-counts": StatusCounts;
  plan: JobPlan;
  flotilla: JobDetailsExtras;
}
export const jobDetailsInfoSchema = z.object({
  jid: jobIdString,
  name: z.string(),
  isStoppable: z.boolean(),
  state: flinkJobStatusSchema,
  "start-time": long,
  "end-time": long,
  duration: long,
  maxParallelism: long,
  now: long,
  timestamps: z.object(
    Object.fromEntries(FLINK_JOB_STATUSES.map((s) => [s, long])) as Record<
      FlinkJobStatus,
      typeof long
    >,
  ),
  vertices: z.array(jobDetailsVertexInfoSchema),
  "status-counts": statusCountsSchema,
  plan: jobPlanSchema,
  flotilla: jobDetailsExtrasSchema,
});

// ---- GET /jobs/:jid/config: JobConfigInfo -------------------------------------------------------

/**
 * Flink's ExecutionConfigInfo. `execution-mode` "PIPELINED" (flotilla streams between tasks),
 * `restart-strategy` a description of the cluster's restart settings, `object-reuse-mode` false,
 * `user-config` the job's arguments (never its secrets).
 */
export interface ExecutionConfigInfo {
  "execution-mode": string;
  "restart-strategy": string;
  "job-parallelism": number;
  "object-reuse-mode": boolean;
  "user-config": Record<string, string>;
}

/** `GET /jobs/:jid/config` (the generated reference says jobId/jobName; Flink sends jid/name). */
export interface JobConfigInfo {
  jid: JobId;
  name: string;
  "execution-config": ExecutionConfigInfo;
}
export const jobConfigInfoSchema = z.object({
  jid: jobIdString,
  name: z.string(),
  "execution-config": z.object({
    "execution-mode": z.string(),
    "restart-strategy": z.string(),
    "job-parallelism": int,
    "object-reuse-mode": z.boolean(),
    "user-config": z.record(z.string(), z.string()),
  }),
});
