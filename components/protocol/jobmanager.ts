/**
 * The JobManager's contract: the routes the JobManager of one job answers on
 * `subjects.jobManager(cluster, jobId)`, their messages, and the app types the TaskManagers',
 * the ResourceManager's and the Dispatcher's clients are typed from. The JobManager mounts
 * `jobManagerRoutes(handlers)`; the RM's test fake mounts `jobManagerResourceRoutes` alone.
 *
 * From TaskManagers: slot offers (`POST /slots/offer`, Flink's `JobMasterGateway.offerSlots`),
 * task states (`updateTaskExecutionState`), checkpoint acknowledgements and declines
 * (`acknowledgeCheckpoint`, `declineCheckpoint`), sources that ended, collected results, task
 * metrics, and the heartbeat (`heartbeatFromTaskManager`).
 * From the ResourceManager: `POST /resources/unavailable` (`notifyNotEnoughResourcesAvailable`)
 * and `POST /taskmanagers/:tmId/lost` (`disconnectTaskManager`, also sent by a TaskManager that
 * gave the job's slots up).
 * From the Dispatcher: status, results, cancel, savepoint, stop, and the adaptive scheduler's
 * resource requirements (`requestJob`, `cancel`, `triggerSavepoint`, `stopWithSavepoint`,
 * `requestJobResourceRequirements`, `updateJobResourceRequirements`).
 */
import { z } from "zod";
import type {
  AllocationId,
  JobEnd,
  JobId,
  JobState,
  Logger,
  SlotId,
  TaskManagerId,
} from "../core/mod.ts";
import { TaskState } from "../core/mod.ts";
import { body, createBlock, params, reply } from "../rpc/mod.ts";
import {
  ACKNOWLEDGED,
  type Acknowledged,
  type Answer,
  allocationIdSchema,
  attemptSchema,
  checkpointIdSchema,
  same,
  slotIdSchema,
  subjectSchema,
  subtaskSchema,
  taskManagerIdSchema,
  tmIdParamSchema,
  vertexIdSchema,
} from "./common.ts";
import {
  jobRequirementsSchema,
  type ResourceProfile,
  type ResourceRequirement,
  resourceProfileSchema,
} from "./resources.ts";

// ---- messages from TaskManagers ----------------------------------------------------------------

/** `POST /slots/offer`: slots the ResourceManager allocated to this job (or held since before). */
export interface SlotOffer {
  tmId: TaskManagerId;
  tmSubject: string;
  slots: { slotId: SlotId; allocationId: AllocationId; profile: ResourceProfile }[];
}

export interface SlotOfferAnswer {
  /** The slots the JobManager holds now; the TaskManager frees the others. */
  accepted: SlotId[];
}

export const slotOfferSchema = z.strictObject({
  tmId: taskManagerIdSchema,
  tmSubject: subjectSchema,
  slots: z
    .array(
      z.strictObject({
        slotId: slotIdSchema,
        allocationId: allocationIdSchema,
        profile: resourceProfileSchema,
      }),
    )
    .min(1)
    .max(1024),
});
same<z.output<typeof slotOfferSchema>, SlotOffer>(true);

/** One subtask of one attempt, as every task report names it. */
const subtaskOfAttempt = {
  attempt: attemptSchema,
  vertexId: vertexIdSchema,
  subtask: subtaskSchema,
};

export const taskStateSchema = z.enum(
  Object.values(TaskState) as [TaskState, ...TaskState[]],
) satisfies z.ZodType<TaskState>;

const metricsSchema = z
  .record(z.string().min(1).max(128), z.number())
  .refine((m) => Object.keys(m).length <= 256, "at most 256 metrics per task");

/** `POST /tasks/state`: a subtask changed state (in order, per subtask). */
export const taskStateReportSchema = z.strictObject({
  ...subtaskOfAttempt,
  state: taskStateSchema,
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(65_536) }).optional(),
  metrics: metricsSchema.optional(),
});
export type TaskStateReport = z.output<typeof taskStateReportSchema>;

/** `POST /tasks/metrics`: a TaskManager's counters of one job's running tasks (best effort). */
export const taskMetricsReportSchema = z.strictObject({
  attempt: attemptSchema,
  tasks: z
    .array(
      z.strictObject({ vertexId: vertexIdSchema, subtask: subtaskSchema, metrics: metricsSchema }),
    )
    .max(32_768),
});
export type TaskMetricsReport = z.output<typeof taskMetricsReportSchema>;

/** `POST /checkpoints/ack`: a subtask stored its snapshot of a checkpoint. */
export const checkpointAckSchema = z.strictObject({
  ...subtaskOfAttempt,
  checkpointId: checkpointIdSchema,
  handle: z.string().min(1).max(1024),
  bytes: z.number().int().min(0),
});
export type CheckpointAck = z.output<typeof checkpointAckSchema>;

/** `POST /checkpoints/decline`: a subtask could not take part in a checkpoint. */
export const checkpointDeclineSchema = z.strictObject({
  ...subtaskOfAttempt,
  checkpointId: checkpointIdSchema,
  reason: z.string().max(65_536),
});
export type CheckpointDecline = z.output<typeof checkpointDeclineSchema>;

/** `POST /sources/ended`: a source subtask read all its input (the final checkpoint follows). */
export const sourceEndedSchema = z.strictObject(subtaskOfAttempt);
export type SourceEnded = z.output<typeof sourceEndedSchema>;

/** `POST /results`: values a `collect` sink committed (de-duplicated by `batchId`). */
/** Largest `POST /results` body (one batch of a collect sink's values). */
export const MAX_RESULTS_BATCH_BYTES = 64 * 1024 * 1024;

export const resultsBatchSchema = z.strictObject({
  sinkId: z.string().min(1).max(256),
  values: z.array(z.unknown()).max(1_000_000),
  batchId: z.string().max(256).optional(),
});
export type ResultsBatch = z.output<typeof resultsBatchSchema>;

export interface JobManagerHeartbeat {
  jobId: JobId;
  state: JobState;
}

// ---- messages from the ResourceManager ---------------------------------------------------------

/** `POST /resources/unavailable`: what the cluster cannot provide even with every slot. */
export interface ResourcesUnavailable {
  missing: ResourceRequirement[];
}
export const resourcesUnavailableSchema = z.strictObject({
  missing: jobRequirementsSchema,
});
same<z.output<typeof resourcesUnavailableSchema>, ResourcesUnavailable>(true);

/** `POST /taskmanagers/:tmId/lost`: a TaskManager that held slots of this job is gone. */
export interface TaskManagerLost {
  reason: string;
}
export const taskManagerLostSchema = z.strictObject({ reason: z.string().max(65_536) });
same<z.output<typeof taskManagerLostSchema>, TaskManagerLost>(true);

// ---- messages from the Dispatcher --------------------------------------------------------------

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

export interface SubtaskDetails {
  subtask: number;
  state: TaskState;
  taskmanager: TaskManagerId;
  recordsIn: number;
  recordsOut: number;
}

export interface VertexDetails {
  id: string;
  name: string;
  parallelism: number;
  parallelismBounds?: ParallelismBounds;
  /** How many subtasks are in each state. */
  tasks: Partial<Record<TaskState, number>>;
  recordsIn: number;
  recordsOut: number;
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

// ---- routes ------------------------------------------------------------------------------------

/** What the JobManager does for TaskManagers. */
export interface JobManagerTaskHandlers {
  heartbeat(): Answer<JobManagerHeartbeat>;
  offerSlots(offer: SlotOffer): Answer<SlotOfferAnswer>;
  taskState(report: TaskStateReport): Answer<void>;
  taskMetrics(report: TaskMetricsReport): Answer<void>;
  acknowledgeCheckpoint(ack: CheckpointAck): Answer<void>;
  declineCheckpoint(decline: CheckpointDecline): Answer<void>;
  sourceEnded(report: SourceEnded): Answer<void>;
  results(batch: ResultsBatch): Answer<void>;
}

/** What the JobManager does for the ResourceManager (and a TaskManager that gave slots up). */
export interface JobManagerResourceHandlers {
  resourcesUnavailable(notice: ResourcesUnavailable): Answer<void>;
  taskManagerLost(tmId: TaskManagerId, notice: TaskManagerLost): Answer<void>;
}

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
}

export interface JobManagerHandlers
  extends JobManagerTaskHandlers,
    JobManagerResourceHandlers,
    JobManagerControlHandlers {}

const acknowledge = async (done: Answer<void>): Promise<Acknowledged> => {
  await done;
  return ACKNOWLEDGED;
};

/** The routes TaskManagers call. */
export function jobManagerTaskRoutes(h: JobManagerTaskHandlers) {
  return (
    createBlock()
      .get("/heartbeat", async (c) => reply(c, await h.heartbeat()))
      .post("/slots/offer", body(slotOfferSchema), async (c) =>
        reply(c, await h.offerSlots(c.req.valid("json"))),
      )
      .post("/tasks/state", body(taskStateReportSchema), async (c) =>
        reply(c, await acknowledge(h.taskState(c.req.valid("json")))),
      )
      .post("/tasks/metrics", body(taskMetricsReportSchema), async (c) =>
        reply(c, await acknowledge(h.taskMetrics(c.req.valid("json")))),
      )
      .post("/checkpoints/ack", body(checkpointAckSchema), async (c) =>
        reply(c, await acknowledge(h.acknowledgeCheckpoint(c.req.valid("json")))),
      )
      .post("/checkpoints/decline", body(checkpointDeclineSchema), async (c) =>
        reply(c, await acknowledge(h.declineCheckpoint(c.req.valid("json")))),
      )
      .post("/sources/ended", body(sourceEndedSchema), async (c) =>
        reply(c, await acknowledge(h.sourceEnded(c.req.valid("json")))),
      )
      // A checkpoint's collected values in one batch: over NATS max_payload bounds it; in
      // process (the MiniCluster) this does, above the 1 MiB other bodies get.
      .post(
        "/results",
        body(resultsBatchSchema, { maxBytes: MAX_RESULTS_BATCH_BYTES }),
        async (c) => reply(c, await acknowledge(h.results(c.req.valid("json")))),
      )
  );
}

/** The routes the ResourceManager calls (and a TaskManager, for `lost`). */
export function jobManagerResourceRoutes(h: JobManagerResourceHandlers) {
  return createBlock()
    .post("/resources/unavailable", body(resourcesUnavailableSchema), async (c) =>
      reply(c, await acknowledge(h.resourcesUnavailable(c.req.valid("json")))),
    )
    .post(
      "/taskmanagers/:tmId/lost",
      params(tmIdParamSchema),
      body(taskManagerLostSchema),
      async (c) =>
        reply(
          c,
          await acknowledge(h.taskManagerLost(c.req.valid("param").tmId, c.req.valid("json"))),
        ),
    );
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
    );
}

/** Every route of a JobManager. */
export function jobManagerRoutes(h: JobManagerHandlers, { log }: { log?: Logger } = {}) {
  return createBlock(log ? { log } : {})
    .route("/", jobManagerTaskRoutes(h))
    .route("/", jobManagerResourceRoutes(h))
    .route("/", jobManagerControlRoutes(h));
}

export type JobManagerTaskApp = ReturnType<typeof jobManagerTaskRoutes>;
export type JobManagerResourceApp = ReturnType<typeof jobManagerResourceRoutes>;
export type JobManagerControlApp = ReturnType<typeof jobManagerControlRoutes>;
export type JobManagerApp = ReturnType<typeof jobManagerRoutes>;
