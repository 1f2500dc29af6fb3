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
import type { AllocationId, JobId, JobState, Logger, SlotId, TaskManagerId } from "../core/mod.ts";
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
import { type JobManagerControlHandlers, jobManagerControlRoutes } from "./jobmanager_control.ts";
import {
  jobRequirementsSchema,
  type ResourceProfile,
  type ResourceRequirement,
  resourceProfileSchema,
} from "./resources.ts";

export {
  type CancelAccepted,
  type CollectedResults,
  JOB_HISTORY_ARCHIVE_MAX_BYTES,
  type JobHistoryArchive,
  type JobManagerControlApp,
  type JobManagerControlHandlers,
  type JobOutcome,
  type JobStatus,
  jobManagerControlRoutes,
  type ParallelismBounds,
  type ResourceRequirements,
  resourceRequirementsSchema,
  type SavepointTaken,
  type StopJob,
  SUBTASK_REST_COUNTERS,
  type SubtaskDetails,
  stopJobSchema,
  type VertexDetails,
} from "./jobmanager_control.ts";

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

/** Every route of a JobManager. */
export function jobManagerRoutes(h: JobManagerHandlers, { log }: { log?: Logger } = {}) {
  return createBlock(log ? { log } : {})
    .route("/", jobManagerTaskRoutes(h))
    .route("/", jobManagerResourceRoutes(h))
    .route("/", jobManagerControlRoutes(h));
}

export type JobManagerTaskApp = ReturnType<typeof jobManagerTaskRoutes>;
export type JobManagerResourceApp = ReturnType<typeof jobManagerResourceRoutes>;
export type JobManagerApp = ReturnType<typeof jobManagerRoutes>;
