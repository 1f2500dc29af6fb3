/**
 * Contracts of the ResourceManager: resource profiles, slot reports, TaskManager registrations,
 * slot requirements, the decisions the SlotManager hands back, the driver interface, and the
 * exact routes the RM calls on TaskManagers and JobManagers.
 *
 * ## Routes the RM serves (subject `flotilla.<clusterId>.rm`, see routes.ts)
 * - `POST /taskmanagers` {@link TaskManagerRegistration} -> {@link RegistrationReply}
 * - `PUT /taskmanagers/:tmId/heartbeat` {@link HeartbeatReport} -> `{known}`; `known: false`
 *   tells a TaskManager the RM forgot it (it was lost, or the RM restarted): register again.
 * - `DELETE /taskmanagers/:tmId` -> `{tmId, jobs}` (404 NOT_FOUND when unknown)
 * - `GET /taskmanagers`, `GET /taskmanagers/:tmId` -> {@link TaskManagerInfo}
 * - `PUT /jobs/:jobId/requirements` {@link RequirementsDeclaration} -> `{jobId, requirements}`
 * - `DELETE /jobs/:jobId` -> `{jobId}` (404 JOB_NOT_FOUND when no requirements were declared)
 * - `GET /overview` -> {@link ResourceOverview}; `GET /healthz` -> `{status: "ok", ...}`
 *
 * ## Routes the RM calls on a TaskManager (its registered `subject`; peer_routes.ts)
 * Every call carries the RM's fencing token (`flotilla-fencing-token`), so a TaskManager can
 * reject a stale RM with 409 STALE_LEADER (scope `resourcemanager`).
 * - `GET /heartbeat` -> {@link TaskManagerHeartbeat} `{tmId, slots}`: the RM's heartbeat
 *   request; the reply's slot report reconciles the RM's view exactly like a pushed heartbeat.
 * - `POST /slots/:slotId/allocate` {@link AllocateSlotRequest} `{jobId, allocationId, jmSubject,
 *   profile}` -> {@link AllocateSlotReply} `{slotId, allocationId}`. Sent with an
 *   `idempotency-key: <allocationId>` header and retried within the deadline, so the TM must
 *   answer a repeated allocationId for the same slot with success. A slot held by another
 *   allocation -> 409 CONFLICT. On a TaskManager with `dynamicSlots`, an unknown `slotId` means
 *   "carve a new slot of exactly `profile`"; not enough resources left -> 409 CONFLICT. After a
 *   success the TM offers the slot to the JobManager at `jmSubject` (FLIP-6 protocol step 4).
 *
 * ## Routes the RM calls on a JobManager (the `jmSubject` it declared with)
 * - `POST /resources/unavailable` {@link ResourcesUnavailable} `{missing: [{profile, count}]}`
 *   -> `{acknowledged: true}`: this much of the declared requirement cannot be met by the
 *   cluster even if the job had every slot, and no driver can start a TaskManager for it. The
 *   JM waits (`slot.request.timeout`) or, when adaptive, runs with what it has.
 * - `POST /taskmanagers/:tmId/lost` {@link TaskManagerLost} `{reason}` -> `{acknowledged: true}`:
 *   a TaskManager that held slots of this job is gone; its slots are gone with it.
 */
import type { AllocationId, JobId, SlotId, TaskManagerId } from "../core/mod.ts";

/**
 * What a slot offers or a requirement needs. All zero (`ANY_PROFILE`) means "any slot": as a
 * requirement it is met by every slot, as a slot's profile it meets every requirement (Flink's
 * `ResourceProfile.ANY`/`UNKNOWN`).
 */
export interface ResourceProfile {
  cpu: number;
  memoryMb: number;
  /** Further resources by name, e.g. `{ gpu: 1 }`; a missing name is 0. */
  extended: Record<string, number>;
}

export const SlotState = {
  FREE: "free",
  ALLOCATED: "allocated",
  ACTIVE: "active",
  RELEASING: "releasing",
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

/** One slot as a TaskManager reports it (at registration and with each heartbeat). */
export interface SlotReport {
  slotId: SlotId;
  /** Position in the TaskManager's slot table. */
  index: number;
  profile: ResourceProfile;
  state: SlotState;
  jobId?: JobId;
  allocationId?: AllocationId;
}

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
  /** The RM's fencing token: the TM rejects calls carrying an older one (a stale RM). */
  rmToken: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

/** `PUT /taskmanagers/:tmId/heartbeat`: the complete slot table of the TaskManager, now. */
export interface HeartbeatReport {
  slots: SlotReport[];
}

/** `count` slots, each offering at least `profile`. */
export interface ResourceRequirement {
  profile: ResourceProfile;
  count: number;
}

/** `PUT /jobs/:jobId/requirements`: replaces whatever the job declared before. */
export interface RequirementsDeclaration {
  /** Where the job's JobManager answers; slots are offered there. */
  jmSubject: string;
  requirements: ResourceRequirement[];
}

/** `POST <tm>/slots/:slotId/allocate`. */
export interface AllocateSlotRequest {
  jobId: JobId;
  allocationId: AllocationId;
  jmSubject: string;
  /** The slot's profile; on a `dynamicSlots` TaskManager, exactly what to carve. */
  profile: ResourceProfile;
}

export interface AllocateSlotReply {
  slotId: SlotId;
  allocationId: AllocationId;
}

/** `GET <tm>/heartbeat` reply. */
export interface TaskManagerHeartbeat {
  tmId: TaskManagerId;
  slots: SlotReport[];
}

/** `POST <jm>/resources/unavailable`. */
export interface ResourcesUnavailable {
  missing: ResourceRequirement[];
}

/** `POST <jm>/taskmanagers/:tmId/lost`. */
export interface TaskManagerLost {
  reason: string;
}

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

export interface SlotInfo extends SlotReport {
  /** Allocated by this RM and not yet confirmed by the TaskManager. */
  pending: boolean;
}

export interface TaskManagerInfo {
  tmId: TaskManagerId;
  subject: string;
  dynamicSlots: boolean;
  totalResources: ResourceProfile;
  /** What is not held by a slot in use (fixed free slots count as free). */
  freeResources: ResourceProfile;
  slots: SlotInfo[];
  registeredAt: number;
  /** When its last slot became free; undefined while any slot is in use. */
  idleSince: number | undefined;
}

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
}
