/**
 * The TaskManager's contract: the routes it answers on `subjects.taskManager(cluster, tmId)`,
 * their messages, and the app types the ResourceManager's and JobManagers' clients are typed
 * from. The TaskManager mounts `taskManagerRoutes(handlers)`; a test fake of the RM's side mounts
 * `taskManagerSlotRoutes` alone, the very same routes.
 *
 * From the ResourceManager (fenced: a call carrying an older RM token gets 409 STALE_LEADER):
 * its heartbeat (`GET /heartbeat`, Flink's `TaskExecutorGateway.heartbeatFromResourceManager`)
 * and slot allocation (`POST /slots/:slotId/allocate`, `requestSlot`), after which the
 * TaskManager offers the slot to the job's JobManager (FLIP-6 step 4).
 * From JobManagers: deploy a subtask (`POST /tasks`, `submitTask`), cancel an attempt's tasks
 * (`POST /jobs/:jobId/cancel`, `cancelTask`), checkpoint trigger and completion
 * (`triggerCheckpoint`, `confirmCheckpoint`), and give a slot back (`POST /slots/:slotId/free`,
 * `freeSlot`).
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import {
  type AllocationId,
  BlockRole,
  type JobId,
  type Logger,
  type SlotId,
  type TaskManagerId,
} from "../core/mod.ts";
import { body, createBlock, type FencingTokens, fencing, params, reply } from "../rpc/mod.ts";
import {
  type Answer,
  allocationIdSchema,
  artifactIdSchema,
  attemptSchema,
  checkpointIdSchema,
  jobIdParamSchema,
  jobIdSchema,
  jobSecretsSchema,
  same,
  slotIdParamSchema,
  subjectSchema,
  subtaskSchema,
  taskManagerIdSchema,
  vertexIdSchema,
} from "./common.ts";
import {
  type ResourceProfile,
  resourceProfileSchema,
  type SlotReport,
  slotTableSchema,
} from "./resources.ts";

/** The scope of the ResourceManager's fencing token in a TaskManager's `FencingTokens`. */
export const RM_FENCING_SCOPE = BlockRole.RESOURCE_MANAGER;

// ---- messages from the ResourceManager ---------------------------------------------------------

/** `POST /slots/:slotId/allocate`: give this slot (or carve it, on a dynamic TaskManager) to a job. */
export interface AllocateSlotRequest {
  jobId: JobId;
  allocationId: AllocationId;
  /** Where the job's JobManager answers: the slot is offered there. */
  jmSubject: string;
  /** The slot's profile; on a `dynamicSlots` TaskManager, exactly what to carve. */
  profile: ResourceProfile;
}

export interface AllocateSlotReply {
  slotId: SlotId;
  allocationId: AllocationId;
}

/** `GET /heartbeat` reply: the complete slot table, which reconciles the RM's view. */
export interface TaskManagerHeartbeat {
  tmId: TaskManagerId;
  slots: SlotReport[];
}

/** The RM checks a heartbeat reply before it trusts the slot table in it. */
export const taskManagerHeartbeatSchema = z.object({
  tmId: taskManagerIdSchema,
  slots: slotTableSchema,
});
same<z.output<typeof taskManagerHeartbeatSchema>, TaskManagerHeartbeat>(true);

export const allocateSlotRequestSchema = z.strictObject({
  jobId: jobIdSchema,
  allocationId: allocationIdSchema,
  jmSubject: subjectSchema,
  profile: resourceProfileSchema,
});
same<z.output<typeof allocateSlotRequestSchema>, AllocateSlotRequest>(true);

// ---- messages from JobManagers -----------------------------------------------------------------

const argsSchema = z
  .record(z.string().min(1).max(256), z.string().max(65_536))
  .refine((args) => Object.keys(args).length <= 256, "at most 256 job arguments");

/** `POST /tasks`: everything a TaskManager needs to run one subtask of one attempt. */
export const taskDescriptorSchema = z.strictObject({
  jobId: jobIdSchema,
  attempt: attemptSchema,
  vertexId: vertexIdSchema,
  subtask: subtaskSchema,
  /** The slot the subtask runs in: the TaskManager must hold it for this job. */
  allocationId: allocationIdSchema,
  jmSubject: subjectSchema,
  /** sha256 of the job artifact in the blob store. */
  artifact: artifactIdSchema,
  args: argsSchema.default({}),
  /** The job's parallelism override, so the graph is rebuilt exactly as the JM built it. */
  parallelism: z.number().int().min(1).max(32_768).optional(),
  /** Each vertex's parallelism (the adaptive scheduler's choice), applied by vertex id. */
  vertexParallelism: z.record(vertexIdSchema, z.number().int().min(1).max(32_768)).optional(),
  /** Snapshot handles of every old subtask of this vertex, when restoring. */
  restore: z.array(z.string().min(1).max(1024)).max(32_768).optional(),
  /** The job's own secrets (submitted with it), for `env.secret` in its code only. */
  secrets: jobSecretsSchema.optional(),
  /** The job's name, for the `job_name` label of its subtasks' metrics on the TaskManager. */
  jobName: z.string().max(256).optional(),
});
export type TaskDescriptor = z.output<typeof taskDescriptorSchema>;

export interface TaskDeployed {
  /** `<jobId>/<attempt>/<vertexId>/<subtask>`: a retried deployment of it is answered the same. */
  deployed: string;
}

/** `POST /slots/:slotId/free`: the JobManager gives the slot back (its tasks are canceled). */
export const freeSlotSchema = z.strictObject({ allocationId: allocationIdSchema });
export type FreeSlotRequest = z.output<typeof freeSlotSchema>;
export interface SlotFreed {
  /** False when the slot was no longer held by this allocation. */
  freed: boolean;
}

/** `POST /jobs/:jobId/cancel`: cancel the job's tasks of this attempt and every older one. */
export const cancelTasksSchema = z.strictObject({ attempt: attemptSchema });
export type CancelTasks = z.output<typeof cancelTasksSchema>;
export interface TasksCanceled {
  canceled: number;
}

/** `POST /jobs/:jobId/checkpoints/:checkpointId/trigger`: to the sources of one attempt. */
export const triggerCheckpointSchema = z.strictObject({
  attempt: attemptSchema,
  /** The final checkpoint after every source ended (FLIP-147). */
  final: z.boolean().default(false),
});
export type TriggerCheckpoint = z.output<typeof triggerCheckpointSchema>;
export interface CheckpointTriggered {
  /** Sources that got it now; tasks still being set up get it when they start. */
  triggered: number;
}

/** `POST /jobs/:jobId/checkpoints/:checkpointId/complete` reply: tasks told (sinks commit). */
export interface CheckpointConfirmed {
  notified: number;
}

export const checkpointParamSchema = z.object({
  jobId: jobIdSchema,
  checkpointId: z.coerce.number().pipe(checkpointIdSchema),
});

export interface TaskManagerHealth {
  ok: true;
  tmId: TaskManagerId;
  registered: boolean;
}

// ---- routes ------------------------------------------------------------------------------------

/** What the TaskManager does for the ResourceManager. */
export interface TaskManagerSlotHandlers {
  heartbeat(): Answer<TaskManagerHeartbeat>;
  /**
   * Allocate (or on a dynamic TaskManager, carve) a slot for a job; idempotent per allocationId.
   * A slot held by another allocation, or not enough resources left: 409 CONFLICT.
   */
  allocate(slotId: SlotId, request: AllocateSlotRequest): Answer<AllocateSlotReply>;
}

/** What the TaskManager does for JobManagers. */
export interface TaskManagerTaskHandlers {
  /** Starts the subtask (idempotent); 409 CONFLICT when the slot is not held for the job. */
  deploy(descriptor: TaskDescriptor): Answer<TaskDeployed>;
  freeSlot(slotId: SlotId, request: FreeSlotRequest): Answer<SlotFreed>;
  cancelTasks(jobId: JobId, request: CancelTasks): Answer<TasksCanceled>;
  triggerCheckpoint(
    jobId: JobId,
    checkpointId: number,
    request: TriggerCheckpoint,
  ): Answer<CheckpointTriggered>;
  confirmCheckpoint(jobId: JobId, checkpointId: number): Answer<CheckpointConfirmed>;
}

/** `GET /metrics`: the TaskManager's own figures by Flink's metric id (`Status.JVM.CPU.Load`). */
export type TaskManagerMetricValues = Record<string, number>;

export interface TaskManagerHandlers extends TaskManagerSlotHandlers, TaskManagerTaskHandlers {
  health(): Answer<TaskManagerHealth>;
  slots(): Answer<SlotReport[]>;
  metrics(): Answer<TaskManagerMetricValues>;
}

/** The routes the ResourceManager calls; calls from an RM with an older token get 409. */
export function taskManagerSlotRoutes(
  h: TaskManagerSlotHandlers,
  { fencingTokens }: { fencingTokens: FencingTokens },
) {
  const fenced: MiddlewareHandler = fencing(fencingTokens, () => RM_FENCING_SCOPE);
  return createBlock()
    .get("/heartbeat", fenced, async (c) => reply(c, await h.heartbeat()))
    .post(
      "/slots/:slotId/allocate",
      // Validated first: a token is remembered only from a call that is well-formed.
      params(slotIdParamSchema),
      body(allocateSlotRequestSchema),
      fenced,
      async (c) => reply(c, await h.allocate(c.req.valid("param").slotId, c.req.valid("json"))),
    );
}

/** The routes JobManagers call. */
export function taskManagerTaskRoutes(h: TaskManagerTaskHandlers) {
  return createBlock()
    .post("/tasks", body(taskDescriptorSchema), async (c) =>
      reply(c, await h.deploy(c.req.valid("json")), 202),
    )
    .post("/slots/:slotId/free", params(slotIdParamSchema), body(freeSlotSchema), async (c) =>
      reply(c, await h.freeSlot(c.req.valid("param").slotId, c.req.valid("json"))),
    )
    .post("/jobs/:jobId/cancel", params(jobIdParamSchema), body(cancelTasksSchema), async (c) =>
      reply(c, await h.cancelTasks(c.req.valid("param").jobId, c.req.valid("json"))),
    )
    .post(
      "/jobs/:jobId/checkpoints/:checkpointId/trigger",
      params(checkpointParamSchema),
      body(triggerCheckpointSchema),
      async (c) => {
        const { jobId, checkpointId } = c.req.valid("param");
        return reply(c, await h.triggerCheckpoint(jobId, checkpointId, c.req.valid("json")));
      },
    )
    .post(
      "/jobs/:jobId/checkpoints/:checkpointId/complete",
      params(checkpointParamSchema),
      async (c) => {
        const { jobId, checkpointId } = c.req.valid("param");
        return reply(c, await h.confirmCheckpoint(jobId, checkpointId));
      },
    );
}

/** Every route of a TaskManager. */
export function taskManagerRoutes(
  h: TaskManagerHandlers,
  { fencingTokens, log }: { fencingTokens: FencingTokens; log?: Logger },
) {
  return createBlock(log ? { log } : {})
    .get("/healthz", async (c) => reply(c, await h.health()))
    .get("/slots", async (c) => reply(c, await h.slots()))
    .get("/metrics", async (c) => reply(c, await h.metrics()))
    .route("/", taskManagerSlotRoutes(h, { fencingTokens }))
    .route("/", taskManagerTaskRoutes(h));
}

export type TaskManagerSlotApp = ReturnType<typeof taskManagerSlotRoutes>;
export type TaskManagerTaskApp = ReturnType<typeof taskManagerTaskRoutes>;
export type TaskManagerApp = ReturnType<typeof taskManagerRoutes>;
