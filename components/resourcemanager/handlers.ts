/**
 * What the ResourceManager does for each route of its contract (components/protocol
 * resourcemanager.ts): TaskManager registration and heartbeats, job requirement declarations,
 * the allocations JobManagers check offers against, and read-only views, each delegated to the RM's core.
 */
import {
  ErrorCode,
  type FlotillaError,
  type JobId,
  NotFoundError,
  type TaskManagerId,
} from "../core/mod.ts";
import type { ResourceManagerHandlers } from "../protocol/mod.ts";
import type { SlotManager } from "./slot_manager.ts";
import type {
  AffectedJob,
  RegistrationReply,
  RequirementsDeclaration,
  SlotReport,
  TaskManagerInfo,
  TaskManagerRegistration,
} from "./types.ts";

/** What the handlers need from the ResourceManager. */
export interface ResourceManagerCore {
  readonly clusterId: string;
  readonly slotManager: SlotManager;
  /** Refused (503) when the TaskManager does not answer a heartbeat at its subject first. */
  register(registration: TaskManagerRegistration): Promise<RegistrationReply>;
  /** False when the TaskManager is unknown. */
  heartbeat(tmId: TaskManagerId, slots: SlotReport[]): boolean;
  /** Undefined when the TaskManager is unknown. */
  unregister(tmId: TaskManagerId, reason: string): AffectedJob[] | undefined;
  declare(jobId: JobId, declaration: RequirementsDeclaration): void;
  /** False when the job declared nothing. */
  clear(jobId: JobId): boolean;
  /** Epoch ms of the TaskManager's last heartbeat; undefined while it is not monitored. */
  lastHeartbeat(tmId: TaskManagerId): number | undefined;
}

function unknownTaskManager(tmId: string): FlotillaError {
  return new NotFoundError(
    ErrorCode.NOT_FOUND,
    `TaskManager ${tmId} is not registered at this ResourceManager (it may have been lost: register it again)`,
  );
}

export function resourceManagerHandlers(rm: ResourceManagerCore): ResourceManagerHandlers {
  const sm = rm.slotManager;
  const withHeartbeat = (info: TaskManagerInfo): TaskManagerInfo => {
    const lastHeartbeat = rm.lastHeartbeat(info.tmId);
    return lastHeartbeat === undefined ? info : { ...info, lastHeartbeat };
  };
  return {
    health: () => ({ status: "ok", role: "resourcemanager", clusterId: rm.clusterId }),
    overview: () => sm.overview(),
    taskManagers: () => sm.taskManagers().map(withHeartbeat),
    taskManager(tmId) {
      const info = sm.taskManager(tmId);
      if (!info) throw unknownTaskManager(tmId);
      return withHeartbeat(info);
    },
    register: (registration) => rm.register(registration),
    heartbeat: (tmId, report) => ({ known: rm.heartbeat(tmId, report.slots) }),
    unregister(tmId) {
      const jobs = rm.unregister(tmId, `TaskManager ${tmId} unregistered`);
      if (!jobs) throw unknownTaskManager(tmId);
      return { tmId, jobs: jobs.map((j) => j.jobId) };
    },
    jobs: () => sm.jobs(),
    declare(jobId, declaration) {
      rm.declare(jobId, declaration);
      return { jobId, requirements: declaration.requirements };
    },
    clear(jobId) {
      if (!rm.clear(jobId)) {
        throw new NotFoundError(
          ErrorCode.JOB_NOT_FOUND,
          `job ${jobId} has no requirements declared at this ResourceManager`,
        );
      }
      return { jobId };
    },
    allocation(allocationId) {
      const allocation = sm.allocation(allocationId);
      if (!allocation) {
        throw new NotFoundError(
          ErrorCode.NOT_FOUND,
          `allocation ${allocationId} is not a slot allocation this ResourceManager made or knows of (never made, refused by its TaskManager, or freed)`,
        );
      }
      return allocation;
    },
  };
}
