/**
 * The ResourceManager's contract: the routes it answers on `subjects.resourceManager(cluster)`,
 * their messages, and `ResourceManagerApp`, the type TaskManagers', JobManagers' and the
 * Dispatcher's clients are typed from. The RM mounts `resourceManagerRoutes(handlers)`.
 *
 * FLIP-6 steps (DESIGN.md section 4): a TaskManager registers (`POST /taskmanagers`, Flink's
 * `ResourceManagerGateway.registerTaskExecutor`) and then reports its slots with each heartbeat
 * (`PUT /taskmanagers/:tmId/heartbeat`, `sendSlotReport` + `heartbeatFromTaskManager`); a
 * JobManager declares what its job needs (`PUT /jobs/:jobId/requirements`,
 * `declareRequiredResources`) and clears it when the job ends (`DELETE /jobs/:jobId`). Before a
 * JobManager takes an offered slot it asks whose allocation it is (`GET /allocations/:allocationId`):
 * all TaskManagers share one NATS user, so the offer alone proves nothing.
 */
import { z } from "zod";
import type { AllocationId, JobId, Logger, SlotId, TaskManagerId } from "../core/mod.ts";
import { body, createBlock, params, reply } from "../rpc/mod.ts";
import {
  type Answer,
  allocationIdSchema,
  jobIdParamSchema,
  same,
  subjectSchema,
  taskManagerIdSchema,
  tmIdParamSchema,
} from "./common.ts";
import {
  jobRequirementsSchema,
  type ResourceProfile,
  type ResourceRequirement,
  resourceProfileSchema,
  type SlotReport,
  slotTableSchema,
} from "./resources.ts";

// ---- messages ----------------------------------------------------------------------------------

/** `POST /taskmanagers`: a TaskManager introducing itself. */
export interface TaskManagerRegistration {
  tmId: TaskManagerId;
  /** The NATS subject (or in-process name) its block answers on. */
  subject: string;
  /** Its fixed slots; may be empty for a TaskManager with `dynamicSlots` (fine-grained). */
  slots: SlotReport[];
  totalResources: ResourceProfile;
  /** Slots are carved on demand out of `totalResources` (FLIP-156). @default false */
  dynamicSlots?: boolean;
  /**
   * What an ANY requirement gets on a TaskManager with `dynamicSlots`.
   * @default one cpu's share: `{cpu: 1, memoryMb: memoryMb / cpu}` of `totalResources`
   * (the whole TaskManager when it has no more than one cpu)
   */
  defaultSlotProfile?: ResourceProfile;
}

/** The RM's answer to a registration. */
export interface RegistrationReply {
  /** The RM's fencing token: the TaskManager refuses calls carrying an older one (a stale RM). */
  rmToken: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

/** `PUT /taskmanagers/:tmId/heartbeat`: the complete slot table of the TaskManager, now. */
export interface HeartbeatReport {
  slots: SlotReport[];
}

/** `known: false` tells a TaskManager the RM forgot it (lost, or a new RM): register again. */
export interface HeartbeatAnswer {
  known: boolean;
}

/** `PUT /jobs/:jobId/requirements`: replaces whatever the job declared before. */
export interface RequirementsDeclaration {
  /** Where the job's JobManager answers; slots are offered there. */
  jmSubject: string;
  requirements: ResourceRequirement[];
}

export interface RequirementsDeclared {
  jobId: JobId;
  requirements: ResourceRequirement[];
}

/** `DELETE /taskmanagers/:tmId`: the TaskManager is gone; these jobs held slots on it. */
export interface TaskManagerRemoved {
  tmId: TaskManagerId;
  jobs: JobId[];
}

export interface RequirementsCleared {
  jobId: JobId;
}

export interface SlotInfo extends SlotReport {
  /** Allocated by this RM and not yet confirmed by the TaskManager. */
  pending: boolean;
}

/** `GET /taskmanagers/:tmId`, and each entry of `GET /taskmanagers`. */
export interface TaskManagerInfo {
  tmId: TaskManagerId;
  subject: string;
  dynamicSlots: boolean;
  totalResources: ResourceProfile;
  /** What is not held by a slot in use (fixed free slots count as free). */
  freeResources: ResourceProfile;
  slots: SlotInfo[];
  registeredAt: number;
  /** Epoch ms of its last heartbeat (answered or sent); absent while the RM does not monitor it. */
  lastHeartbeat?: number;
  /** When its last slot became free; undefined while any slot is in use. */
  idleSince: number | undefined;
}

/**
 * `GET /allocations/:allocationId`: a slot allocation this RM made (pending or confirmed by its
 * TaskManager), or learned from a TaskManager's slot report after a failover.
 */
export interface AllocationInfo {
  allocationId: AllocationId;
  jobId: JobId;
  tmId: TaskManagerId;
  slotId: SlotId;
  /** Where the TaskManager holding it registered to answer: where the job's tasks go. */
  tmSubject: string;
  /** Not yet confirmed by the TaskManager. */
  pending: boolean;
}

/** Each entry of `GET /jobs`. */
export interface JobRequirementsInfo {
  jobId: JobId;
  jmSubject: string;
  requirements: ResourceRequirement[];
  /** Slots still missing per profile (requirements minus the job's slots). */
  missing: ResourceRequirement[];
}

/** `GET /overview`. */
export interface ResourceOverview {
  taskmanagers: number;
  slotsTotal: number;
  slotsFree: number;
  /** Slots declared by jobs and not yet held by them. */
  pendingRequirements: number;
  /** TaskManagers asked of the driver that have not registered yet. */
  pendingTaskManagers: number;
  jobs: number;
  totalResources: ResourceProfile;
  freeResources: ResourceProfile;
}

export interface ResourceManagerHealth {
  status: "ok";
  role: "resourcemanager";
  clusterId: string;
}

// ---- schemas of what the RM takes --------------------------------------------------------------

export const registrationSchema = z.strictObject({
  tmId: taskManagerIdSchema,
  subject: subjectSchema,
  slots: slotTableSchema.default([]),
  totalResources: resourceProfileSchema,
  dynamicSlots: z.boolean().optional(),
  defaultSlotProfile: resourceProfileSchema.optional(),
});

export const heartbeatReportSchema = z.strictObject({ slots: slotTableSchema });

export const requirementsDeclarationSchema = z.strictObject({
  jmSubject: subjectSchema,
  requirements: jobRequirementsSchema,
});

const allocationIdParamSchema = z.object({ allocationId: allocationIdSchema });

same<z.output<typeof registrationSchema>, TaskManagerRegistration>(true);
same<z.output<typeof heartbeatReportSchema>, HeartbeatReport>(true);
same<z.output<typeof requirementsDeclarationSchema>, RequirementsDeclaration>(true);

// ---- routes ------------------------------------------------------------------------------------

/** What the ResourceManager does for each route; a thrown FlotillaError is the typed reply. */
export interface ResourceManagerHandlers {
  health(): Answer<ResourceManagerHealth>;
  overview(): Answer<ResourceOverview>;
  taskManagers(): Answer<TaskManagerInfo[]>;
  /** 404 NOT_FOUND when the TaskManager is not registered. */
  taskManager(tmId: TaskManagerId): Answer<TaskManagerInfo>;
  register(registration: TaskManagerRegistration): Answer<RegistrationReply>;
  heartbeat(tmId: TaskManagerId, report: HeartbeatReport): Answer<HeartbeatAnswer>;
  /** 404 NOT_FOUND when the TaskManager is not registered. */
  unregister(tmId: TaskManagerId): Answer<TaskManagerRemoved>;
  jobs(): Answer<JobRequirementsInfo[]>;
  declare(jobId: JobId, declaration: RequirementsDeclaration): Answer<RequirementsDeclared>;
  /** 404 JOB_NOT_FOUND when the job declared nothing. */
  clear(jobId: JobId): Answer<RequirementsCleared>;
  /** 404 NOT_FOUND when no slot is allocated with this id (never made, refused, or freed). */
  allocation(allocationId: AllocationId): Answer<AllocationInfo>;
}

export function resourceManagerRoutes(h: ResourceManagerHandlers, { log }: { log?: Logger } = {}) {
  return createBlock(log ? { log } : {})
    .get("/healthz", async (c) => reply(c, await h.health()))
    .get("/overview", async (c) => reply(c, await h.overview()))
    .get("/taskmanagers", async (c) => reply(c, { taskmanagers: await h.taskManagers() }))
    .post("/taskmanagers", body(registrationSchema), async (c) =>
      reply(c, await h.register(c.req.valid("json"))),
    )
    .get("/taskmanagers/:tmId", params(tmIdParamSchema), async (c) =>
      reply(c, await h.taskManager(c.req.valid("param").tmId)),
    )
    .put(
      "/taskmanagers/:tmId/heartbeat",
      params(tmIdParamSchema),
      body(heartbeatReportSchema),
      async (c) => reply(c, await h.heartbeat(c.req.valid("param").tmId, c.req.valid("json"))),
    )
    .delete("/taskmanagers/:tmId", params(tmIdParamSchema), async (c) =>
      reply(c, await h.unregister(c.req.valid("param").tmId)),
    )
    .get("/jobs", async (c) => reply(c, { jobs: await h.jobs() }))
    .put(
      "/jobs/:jobId/requirements",
      params(jobIdParamSchema),
      body(requirementsDeclarationSchema),
      async (c) => reply(c, await h.declare(c.req.valid("param").jobId, c.req.valid("json"))),
    )
    .delete("/jobs/:jobId", params(jobIdParamSchema), async (c) =>
      reply(c, await h.clear(c.req.valid("param").jobId)),
    )
    .get("/allocations/:allocationId", params(allocationIdParamSchema), async (c) =>
      reply(c, await h.allocation(c.req.valid("param").allocationId)),
    );
}

export type ResourceManagerApp = ReturnType<typeof resourceManagerRoutes>;
