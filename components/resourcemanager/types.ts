/**
 * The ResourceManager's own contracts: the decisions the SlotManager hands back and the driver
 * interface. What it answers and calls on the wire is components/protocol (resourcemanager.ts,
 * and the routes it calls: taskmanager.ts `taskManagerSlotRoutes`, jobmanager.ts
 * `jobManagerResourceRoutes`); the wire types its modules use are re-exported here for them.
 */
import type { AllocationId, JobId, SlotId, TaskManagerId } from "../core/mod.ts";
import type { ResourceProfile, ResourceRequirement } from "../protocol/mod.ts";

export {
  type AllocateSlotReply,
  type AllocateSlotRequest,
  type AllocationInfo,
  type HeartbeatReport,
  type JobRequirementsInfo,
  type RegistrationReply,
  type RequirementsDeclaration,
  type ResourceOverview,
  type ResourceProfile,
  type ResourceRequirement,
  type ResourcesUnavailable,
  type SlotInfo,
  type SlotReport,
  SlotState,
  type TaskManagerHeartbeat,
  type TaskManagerInfo,
  type TaskManagerLost,
  type TaskManagerRegistration,
} from "../protocol/mod.ts";

/** A job that held slots on a TaskManager, and where its JobManager answers. */
export interface AffectedJob {
  jobId: JobId;
  /** Unknown when the slot came from a report and the job never declared requirements here. */
  jmSubject: string | undefined;
}

/** What the SlotManager decided; the ResourceManager carries it out. */
export type SlotManagerAction =
  | {
      kind: "allocate";
      tmId: TaskManagerId;
      /** The TaskManager's subject. */
      subject: string;
      slotId: SlotId;
      jobId: JobId;
      allocationId: AllocationId;
      profile: ResourceProfile;
      jmSubject: string;
    }
  | { kind: "unfulfillable"; jobId: JobId; jmSubject: string; missing: ResourceRequirement[] }
  | { kind: "request-tm"; profile: ResourceProfile }
  | { kind: "tm-lost"; tmId: TaskManagerId; reason: string; jobs: AffectedJob[] }
  | { kind: "release-tm"; tmId: TaskManagerId };

/** Starts and stops TaskManagers for the RM: static (none), local processes, containers... */
export interface ResourceDriver {
  readonly kind: string;
  /** Whether this driver could start a TaskManager offering `profile` (now or later). */
  canStart(profile: ResourceProfile): boolean;
  /** Start one TaskManager offering (at least) `profile`; it registers itself when up. */
  startTaskManager(profile: ResourceProfile): Promise<void>;
  /**
   * Stop a TaskManager this driver started. Resolves false when it does not own `tmId` (a
   * TaskManager started by someone else): the RM then keeps it registered.
   */
  stopTaskManager(tmId: TaskManagerId): Promise<boolean>;
  /** Stop everything the driver started. */
  stop?(): Promise<void>;
  /** The TaskManagers it runs by a host name their network resolves (for Prometheus). */
  metricsHosts?(): { tmId: TaskManagerId; host: string }[];
}
