/**
 * The JobManager's contract with the Dispatcher (part of components/protocol/jobmanager.ts's, which
 * mounts and re-exports it): status, results, cancel, savepoint, stop, resource requirements, and
 * the job's history (checkpoint statistics, checkpoint config, exception history, and the archive
 * its result keeps), the latter in Flink's REST shapes (job_history.ts).
 */
import { z } from "zod";
import type { JobEnd, JobId, JobState, TaskManagerId, TaskState } from "../core/mod.ts";
import { body, createBlock, params, query, reply } from "../rpc/mod.ts";
import { type Answer, same, vertexIdSchema } from "./common.ts";
import {
  type CheckpointConfigInfo,
  type CheckpointingStatistics,
  type CheckpointStatistics,
  checkpointDetailsParamSchema,
  checkpointVertexParamSchema,
  type ExceptionsQuery,
  exceptionsQuerySchema,
  type JobExceptions,
  type TaskCheckpointWithSubtasks,
} from "./job_history.ts";

export interface ParallelismBounds {
  lowerBound: number;
  upperBound: number;
}

const parallelismBoundsSchema = z
  .strictObject({
    lowerBound: z.number().int().min(1),
    upperBound: z.number().int().min(1).max(32_768),
  })
  .refine((b) => b.lowerBound <= b.upperBound, {
    message: "lowerBound must not be above upperBound",
  });

/**
 * `GET|PUT /resource-requirements` (Flink's shape): the parallelism bounds of each vertex,
 * `{ "<vertexId>": { "parallelism": { "lowerBound": 1, "upperBound": 4 } } }`.
 */
export type ResourceRequirements = Record<string, { parallelism: ParallelismBounds }>;
export const resourceRequirementsSchema = z
  .record(vertexIdSchema, z.strictObject({ parallelism: parallelismBoundsSchema }))
  .refine((r) => Object.keys(r).length > 0, {
    message:
      'name at least one vertex: { "<vertexId>": { "parallelism": { "lowerBound": 1, "upperBound": 4 } } } (GET shows them)',
  })
  .refine((r) => Object.keys(r).length <= 4096, "at most 4096 vertices");
same<z.output<typeof resourceRequirementsSchema>, ResourceRequirements>(true);

/**
 * One subtask of the current (or last) attempt. The hyphenated fields are Flink's
 * (`SubtaskExecutionAttemptDetailsInfo`): epoch ms, `-1` until it happened.
 */
export interface SubtaskDetails {
  subtask: number;
  state: TaskState;
  taskmanager: TaskManagerId;
  recordsIn: number;
  recordsOut: number;
  /** Bytes in/out, where the runtime counts them (metrics `bytesIn`, `bytesOut`). */
  bytesIn?: number;
  bytesOut?: number;
  /** The attempt it belongs to (Flink's execution attempt number). */
  attempt: number;
  /** Where it runs: its TaskManager's id (flotilla knows no other host name for it). */
  host: string;
  "taskmanager-id": TaskManagerId;
  /** When it was deployed. */
  "start-time": number;
  /** When it finished, failed or was canceled; -1 while it runs. */
  "end-time": number;
  /**
   * Its last reported task counters (`SUBTASK_REST_COUNTERS`: records, bytes, busy, idle and
   * back-pressured ms since it runs, watermarks; not the operators' own), for the REST
   * watermarks, backpressure and metric queries.
   */
  metrics?: Record<string, number>;
}

/** The task counters a subtask's details carry (the rest stay in the JobManager). */
export const SUBTASK_REST_COUNTERS = [
  "recordsIn",
  "recordsOut",
  "bytesIn",
  "bytesOut",
  "creditWaits",
  "busyMs",
  "idleMs",
  "backPressuredMs",
  "inputWatermark",
  "outputWatermark",
];

export interface VertexDetails {
  id: string;
  name: string;
  parallelism: number;
  parallelismBounds?: ParallelismBounds;
  /** How many subtasks are in each state. */
  tasks: Partial<Record<TaskState, number>>;
  recordsIn: number;
  recordsOut: number;
  bytesIn?: number;
  bytesOut?: number;
  /** Flink's: the earliest start of its subtasks (-1: none yet), the latest end (-1: not all ended). */
  "start-time": number;
  "end-time": number;
  subtasks: SubtaskDetails[];
}

/** `GET /status`: the job as its JobManager sees it now. */
export interface JobStatus {
  jobId: JobId;
  name: string;
  state: JobState;
  attempt: number;
  restarts: number;
  scheduler: "default" | "adaptive" | "reactive";
  rescales: number;
  /** Adaptive jobs: the lowest lower and the highest upper bound of their vertices. */
  parallelismBounds?: ParallelismBounds;
  checkpoints: number;
  /** Why it failed, once it has. */
  error?: { code: string; message: string };
  lastCheckpoint?: { id: number; timestamp: number };
  /** While created: what the job waits for. */
  waitingFor?: string;
  /** Epoch ms the job last entered each state, every JobState named (0: never), as Flink's. */
  timestamps: Record<JobState, number>;
  vertices: VertexDetails[];
}

/** A job's end (`POST /stop` answers it once the job ended). */
export interface JobOutcome {
  jobId: JobId;
  state: JobEnd;
  error?: { code: string; message: string };
  restarts: number;
  rescales: number;
  checkpoints: number;
  /** The savepoint a stop-with-savepoint took. */
  savepoint?: string;
}

/** What each `collect` sink committed, by sink id. */
export type CollectedResults = Record<string, unknown[]>;

export const stopJobSchema = z.strictObject({
  /** Stop with a savepoint (the job ends finished); without: ends like a cancel. */
  savepoint: z.boolean().default(true),
});
export type StopJob = z.output<typeof stopJobSchema>;

export interface CancelAccepted {
  jobId: JobId;
  state: JobState;
}

export interface SavepointTaken {
  path: string;
}

// ---- the archive an ended job keeps ------------------------------------------------------------

/**
 * What a job's result record keeps of its history, so the Dispatcher answers a finished job's
 * checkpoint, exception and vertex pages. Bounded (see `JOB_HISTORY_ARCHIVE_MAX_BYTES`): what did
 * not fit is named in `trimmed`, per-subtask details first.
 */
export interface JobHistoryArchive {
  checkpoints: CheckpointingStatistics;
  /** Each kept checkpoint's details with its per-vertex `tasks` (unless trimmed). */
  details: CheckpointStatistics[];
  /** Per checkpoint id, per vertex hex id: the subtasks' details (trimmed first). */
  subtasks: Record<string, Record<string, TaskCheckpointWithSubtasks>>;
  /** `null`: the job had no checkpointing (its config page is a 404). */
  config: CheckpointConfigInfo | null;
  exceptions: JobExceptions;
  /** Epoch ms the job entered each state (Flink's `timestamps`; 0: never). */
  timestamps: Record<JobState, number>;
  /** The last attempt's vertices; their `subtasks` emptied when trimmed. */
  vertices: VertexDetails[];
  /** What was left out to stay within the bound (per-subtask details go first). */
  trimmed: string[];
}

/**
 * The most an archive may take, as JSON: a result record is one KV value under NATS max_payload
 * (1 MiB), and a new leader reads every kept result (jobstore.max-capacity) once.
 */
export const JOB_HISTORY_ARCHIVE_MAX_BYTES = 128 * 1024;

/** What the JobManager does for the Dispatcher. */
export interface JobManagerControlHandlers {
  status(): Answer<JobStatus>;
  collected(): Answer<CollectedResults>;
  /** Starts canceling and answers at once (409 CONFLICT when the job already ended). */
  cancel(): Answer<CancelAccepted>;
  /** 409 CONFLICT unless the job runs. */
  savepoint(): Answer<SavepointTaken>;
  /** Answers when the job ended. */
  stop(request: StopJob): Answer<JobOutcome>;
  resourceRequirements(): Answer<ResourceRequirements>;
  /** 409 CONFLICT for a job on the default scheduler, or one that ended. */
  setResourceRequirements(requirements: ResourceRequirements): Answer<ResourceRequirements>;
  /** Flink's `CheckpointingStatistics` of the job so far. */
  checkpoints(): Answer<CheckpointingStatistics>;
  /** 404 NOT_FOUND for a job without checkpointing (as Flink). */
  checkpointConfig(): Answer<CheckpointConfigInfo>;
  /** One checkpoint of the kept history, with its per-vertex `tasks`; 404 NOT_FOUND otherwise. */
  checkpointDetails(checkpointId: number): Answer<CheckpointStatistics>;
  /** One vertex's subtasks in one kept checkpoint (vertex by hex or flotilla id); 404 otherwise. */
  checkpointSubtasks(checkpointId: number, vertexId: string): Answer<TaskCheckpointWithSubtasks>;
  /** Flink's `JobExceptionsInfoWithHistory`, at most `maxExceptions` entries (default 20). */
  exceptions(query: ExceptionsQuery): Answer<JobExceptions>;
  /** The bounded archive the job's result record keeps (the Dispatcher asks once it ended). */
  archive(): Answer<JobHistoryArchive>;
}

/** The routes the Dispatcher calls. */
export function jobManagerControlRoutes(h: JobManagerControlHandlers) {
  return createBlock()
    .get("/status", async (c) => reply(c, await h.status()))
    .get("/results", async (c) => reply(c, await h.collected()))
    .post("/cancel", async (c) => reply(c, await h.cancel(), 202))
    .post("/savepoints", async (c) => reply(c, await h.savepoint(), 201))
    .post("/stop", body(stopJobSchema), async (c) => reply(c, await h.stop(c.req.valid("json"))))
    .get("/resource-requirements", async (c) => reply(c, await h.resourceRequirements()))
    .put("/resource-requirements", body(resourceRequirementsSchema), async (c) =>
      reply(c, await h.setResourceRequirements(c.req.valid("json"))),
    )
    .get("/checkpoints", async (c) => reply(c, await h.checkpoints()))
    .get("/checkpoints/config", async (c) => reply(c, await h.checkpointConfig()))
    .get("/checkpoints/details/:checkpointId", params(checkpointDetailsParamSchema), async (c) =>
      reply(c, await h.checkpointDetails(c.req.valid("param").checkpointId)),
    )
    .get(
      "/checkpoints/details/:checkpointId/subtasks/:vertexId",
      params(checkpointVertexParamSchema),
      async (c) => {
        const { checkpointId, vertexId } = c.req.valid("param");
        return reply(c, await h.checkpointSubtasks(checkpointId, vertexId));
      },
    )
    .get("/exceptions", query(exceptionsQuerySchema), async (c) =>
      reply(c, await h.exceptions(c.req.valid("query"))),
    )
    .get("/archive", async (c) => reply(c, await h.archive()));
}

export type JobManagerControlApp = ReturnType<typeof jobManagerControlRoutes>;
