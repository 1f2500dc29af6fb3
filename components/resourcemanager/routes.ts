/**
 * The ResourceManager's Hono routes: TaskManager registration and heartbeats, job requirement
 * declarations, and read-only views. Routes validate with zod and delegate to the RM's core.
 */
import {
  ErrorCode,
  type FlotillaError,
  type JobId,
  type Logger,
  NotFoundError,
  type TaskManagerId,
} from "../core/mod.ts";
import { body, createBlock, params, reply } from "../rpc/mod.ts";
import {
  heartbeatReportSchema,
  jobIdParamSchema,
  registrationSchema,
  requirementsDeclarationSchema,
  tmIdParamSchema,
} from "./schemas.ts";
import type { SlotManager } from "./slot_manager.ts";
import type {
  AffectedJob,
  RegistrationReply,
  RequirementsDeclaration,
  SlotReport,
  TaskManagerRegistration,
} from "./types.ts";

/** What the routes need from the ResourceManager. */
export interface ResourceManagerCore {
  readonly clusterId: string;
  readonly slotManager: SlotManager;
  register(registration: TaskManagerRegistration): RegistrationReply;
  /** False when the TaskManager is unknown. */
  heartbeat(tmId: TaskManagerId, slots: SlotReport[]): boolean;
  /** Undefined when the TaskManager is unknown. */
  unregister(tmId: TaskManagerId, reason: string): AffectedJob[] | undefined;
  declare(jobId: JobId, declaration: RequirementsDeclaration): void;
  /** False when the job declared nothing. */
  clear(jobId: JobId): boolean;
}

function unknownTaskManager(tmId: string): FlotillaError {
  return new NotFoundError(
    ErrorCode.NOT_FOUND,
    `TaskManager ${tmId} is not registered at this ResourceManager (it may have been lost: register it again)`,
  );
}

export function resourceManagerRoutes(rm: ResourceManagerCore, log?: Logger) {
  const sm = rm.slotManager;
  return createBlock(log ? { log } : {})
    .get("/healthz", (c) =>
      reply(c, {
        status: "ok" as const,
        role: "resourcemanager" as const,
        clusterId: rm.clusterId,
      }),
    )
    .get("/overview", (c) => reply(c, sm.overview()))
    .get("/taskmanagers", (c) => reply(c, { taskmanagers: sm.taskManagers() }))
    .post("/taskmanagers", body(registrationSchema), (c) =>
      reply(c, rm.register(c.req.valid("json"))),
    )
    .get("/taskmanagers/:tmId", params(tmIdParamSchema), (c) => {
      const { tmId } = c.req.valid("param");
      const info = sm.taskManager(tmId);
      if (!info) throw unknownTaskManager(tmId);
      return reply(c, info);
    })
    .put(
      "/taskmanagers/:tmId/heartbeat",
      params(tmIdParamSchema),
      body(heartbeatReportSchema),
      (c) => {
        const known = rm.heartbeat(c.req.valid("param").tmId, c.req.valid("json").slots);
        return reply(c, { known });
      },
    )
    .delete("/taskmanagers/:tmId", params(tmIdParamSchema), (c) => {
      const { tmId } = c.req.valid("param");
      const jobs = rm.unregister(tmId, `TaskManager ${tmId} unregistered`);
      if (!jobs) throw unknownTaskManager(tmId);
      return reply(c, { tmId, jobs: jobs.map((j) => j.jobId) });
    })
    .get("/jobs", (c) => reply(c, { jobs: sm.jobs() }))
    .put(
      "/jobs/:jobId/requirements",
      params(jobIdParamSchema),
      body(requirementsDeclarationSchema),
      (c) => {
        const { jobId } = c.req.valid("param");
        const declaration = c.req.valid("json");
        rm.declare(jobId, declaration);
        return reply(c, { jobId, requirements: declaration.requirements });
      },
    )
    .delete("/jobs/:jobId", params(jobIdParamSchema), (c) => {
      const { jobId } = c.req.valid("param");
      if (!rm.clear(jobId)) {
        throw new NotFoundError(
          ErrorCode.JOB_NOT_FOUND,
          `job ${jobId} has no requirements declared at this ResourceManager`,
        );
      }
      return reply(c, { jobId });
    });
}

export type ResourceManagerApp = ReturnType<typeof resourceManagerRoutes>;
