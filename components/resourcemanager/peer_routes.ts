/**
 * The routes the ResourceManager calls on TaskManagers and JobManagers, as small Hono blocks
 * built from handlers. The RM's clients are typed from them, so a TaskManager or JobManager
 * that mounts these (`app.route("/", taskManagerRoutes({...}))`) or implements the same paths
 * and bodies (documented in types.ts) is exactly what the RM expects.
 */
import type { MiddlewareHandler } from "hono";
import { BlockRole, type SlotId, type TaskManagerId } from "../core/mod.ts";
import { body, createBlock, type FencingTokens, fencing, params, reply } from "../rpc/mod.ts";
import {
  allocateSlotRequestSchema,
  resourcesUnavailableSchema,
  slotIdParamSchema,
  taskManagerLostSchema,
  tmIdParamSchema,
} from "./schemas.ts";
import type {
  AllocateSlotReply,
  AllocateSlotRequest,
  ResourcesUnavailable,
  TaskManagerHeartbeat,
  TaskManagerLost,
} from "./types.ts";

type Answer<T> = T | Promise<T>;

/** Scope of the RM's fencing token in a TaskManager's `FencingTokens`. */
export const RM_FENCING_SCOPE = BlockRole.RESOURCE_MANAGER;

export interface TaskManagerHandlers {
  /** The RM's heartbeat: answer with the complete slot table. */
  heartbeat(): Answer<TaskManagerHeartbeat>;
  /** Allocate (or on a dynamic TaskManager, carve) a slot for a job; idempotent per allocationId. */
  allocate(slotId: SlotId, request: AllocateSlotRequest): Answer<AllocateSlotReply>;
  /** When given, calls from an RM with an older fencing token get 409 STALE_LEADER. */
  fencingTokens?: FencingTokens;
}

export function taskManagerRoutes({ heartbeat, allocate, fencingTokens }: TaskManagerHandlers) {
  const fenced: MiddlewareHandler = fencingTokens
    ? fencing(fencingTokens, () => RM_FENCING_SCOPE)
    : async (_c, next) => {
        await next();
      };
  return createBlock()
    .get("/heartbeat", fenced, async (c) => reply(c, await heartbeat()))
    .post(
      "/slots/:slotId/allocate",
      fenced,
      params(slotIdParamSchema),
      body(allocateSlotRequestSchema),
      async (c) => reply(c, await allocate(c.req.valid("param").slotId, c.req.valid("json"))),
    );
}

export type TaskManagerRpc = ReturnType<typeof taskManagerRoutes>;

export interface JobManagerHandlers {
  /** Part of the job's requirements cannot be met by this cluster. */
  resourcesUnavailable(notice: ResourcesUnavailable): Answer<void>;
  /** A TaskManager holding slots of this job is gone. */
  taskManagerLost(tmId: TaskManagerId, notice: TaskManagerLost): Answer<void>;
}

export function jobManagerRoutes({ resourcesUnavailable, taskManagerLost }: JobManagerHandlers) {
  return createBlock()
    .post("/resources/unavailable", body(resourcesUnavailableSchema), async (c) => {
      await resourcesUnavailable(c.req.valid("json"));
      return reply(c, { acknowledged: true as const });
    })
    .post(
      "/taskmanagers/:tmId/lost",
      params(tmIdParamSchema),
      body(taskManagerLostSchema),
      async (c) => {
        await taskManagerLost(c.req.valid("param").tmId, c.req.valid("json"));
        return reply(c, { acknowledged: true as const });
      },
    );
}

export type JobManagerRpc = ReturnType<typeof jobManagerRoutes>;
