/**
 * The SlotManager's record of one registered TaskManager and its slots: how slots are learned
 * from reports, allocated and freed, what the TaskManager adds to a matching pool, and its public view.
 */
import {
  type AllocationId,
  type JobId,
  newAllocationId,
  type SlotId,
  slotId as slotIdOf,
  type TaskManagerId,
} from "../core/mod.ts";
import type { Placement, Pool } from "./matching.ts";
import { profile, subtract, sum } from "./profile.ts";
import type {
  ResourceProfile,
  SlotReport,
  SlotState,
  TaskManagerInfo,
  TaskManagerRegistration,
} from "./types.ts";

export interface SlotEntry {
  slotId: SlotId;
  index: number;
  profile: ResourceProfile;
  state: SlotState;
  jobId?: JobId | undefined;
  allocationId?: AllocationId | undefined;
  jmSubject?: string | undefined;
  /** The requirement profile it was allocated for; undefined when learned from a report. */
  requested?: ResourceProfile | undefined;
  /** Allocated here and not yet confirmed by the TaskManager. */
  pending: boolean;
  /** Its allocate call failed: not offered again until the TaskManager reports it. */
  quarantined: boolean;
}

export interface TaskManagerEntry {
  readonly tmId: TaskManagerId;
  readonly registration: TaskManagerRegistration;
  readonly dynamicSlots: boolean;
  readonly defaultSlotProfile: ResourceProfile;
  /** On a `dynamicSlots` TaskManager only the carved slots in use are kept. */
  readonly slots: Map<SlotId, SlotEntry>;
  /** Registration order: a stable tie-break between equal candidates. */
  readonly order: number;
  readonly registeredAt: number;
  /** The index the next carved slot gets. */
  nextIndex: number;
  idleSince: number | undefined;
  /** Handed to the driver for release. */
  releasing: boolean;
  /** The driver would not release it: keep it until it has been busy again. */
  kept: boolean;
}

export const inUse = (s: SlotEntry) => s.state !== "free" || s.pending || s.quarantined;

/** Whether the slot serves the job (a slot being released does not). */
export const holds = (s: SlotEntry, jobId: JobId) =>
  s.jobId === jobId && (s.state === "allocated" || s.state === "active");

function defaultSlotOf(reg: TaskManagerRegistration): ResourceProfile {
  if (reg.defaultSlotProfile) return reg.defaultSlotProfile;
  const { cpu, memoryMb } = reg.totalResources;
  return cpu > 1 ? profile(1, Math.floor(memoryMb / cpu)) : reg.totalResources;
}

export function newTaskManagerEntry(
  registration: TaskManagerRegistration,
  order: number,
  now: number,
): TaskManagerEntry {
  return {
    tmId: registration.tmId,
    registration,
    dynamicSlots: registration.dynamicSlots ?? false,
    defaultSlotProfile: defaultSlotOf(registration),
    slots: new Map(),
    order,
    registeredAt: now,
    nextIndex: 0,
    idleSince: undefined,
    releasing: false,
    kept: false,
  };
}

/** Adds a slot the RM did not know, as reported (a free slot of a dynamic TM is no slot). */
export function learnSlot(
  tm: TaskManagerEntry,
  report: SlotReport,
  jmSubjectOf: (jobId: JobId) => string | undefined,
): void {
  tm.nextIndex = Math.max(tm.nextIndex, report.index + 1);
  if (tm.dynamicSlots && report.state === "free") return;
  const held = report.state !== "free" && report.jobId !== undefined;
  tm.slots.set(report.slotId, {
    slotId: report.slotId,
    index: report.index,
    profile: report.profile,
    state: report.state,
    jobId: held ? report.jobId : undefined,
    allocationId: held ? report.allocationId : undefined,
    jmSubject: held && report.jobId ? jmSubjectOf(report.jobId) : undefined,
    pending: false,
    quarantined: false,
  });
}

/**
 * One slot of a heartbeat report. The TaskManager's word wins, except for a slot the RM
 * allocated that the TaskManager has not confirmed yet (the report may predate the call).
 */
export function applyReport(
  tm: TaskManagerEntry,
  report: SlotReport,
  jmSubjectOf: (jobId: JobId) => string | undefined,
): void {
  const slot = tm.slots.get(report.slotId);
  if (!slot) {
    learnSlot(tm, report, jmSubjectOf);
    return;
  }
  if (slot.pending && report.allocationId !== slot.allocationId) return;
  slot.pending = false;
  slot.quarantined = false;
  if (report.state === "free") {
    if (tm.dynamicSlots) tm.slots.delete(slot.slotId);
    else freeSlot(slot);
    return;
  }
  if (slot.jobId !== report.jobId) {
    slot.requested = undefined;
    slot.jmSubject = report.jobId && jmSubjectOf(report.jobId);
  }
  Object.assign(slot, {
    state: report.state,
    jobId: report.jobId,
    allocationId: report.allocationId,
    profile: report.profile,
  } satisfies Partial<SlotEntry>);
}

export function freeSlot(slot: SlotEntry): void {
  Object.assign(slot, {
    state: "free",
    jobId: undefined,
    allocationId: undefined,
    jmSubject: undefined,
    requested: undefined,
    pending: false,
  } satisfies Partial<SlotEntry>);
}

/**
 * Allocates a slot on `tm` for a job: the free slot `placement` chose, or on a dynamic
 * TaskManager a slot carved from its free resources. Pending until the TaskManager confirms it.
 */
export function allocateSlot(
  tm: TaskManagerEntry,
  placement: Placement,
  job: { jobId: JobId; jmSubject: string; requested: ResourceProfile },
  now: number,
): SlotEntry {
  let slot: SlotEntry;
  if (placement.kind === "fixed") {
    slot = tm.slots.get(placement.slot.slotId)!;
  } else {
    const index = tm.nextIndex++;
    slot = {
      slotId: slotIdOf(tm.tmId, index),
      index,
      profile: placement.profile,
      state: "free",
      pending: false,
      quarantined: false,
    };
    tm.slots.set(slot.slotId, slot);
  }
  Object.assign(slot, {
    state: "allocated",
    jobId: job.jobId,
    allocationId: newAllocationId(),
    jmSubject: job.jmSubject,
    requested: job.requested,
    pending: true,
    quarantined: false,
  } satisfies Partial<SlotEntry>);
  updateIdle(tm, now);
  return slot;
}

/** Idle since now when no slot is in use; busy again clears `kept`. */
export function updateIdle(tm: TaskManagerEntry, now: number): void {
  if ([...tm.slots.values()].some(inUse)) {
    tm.idleSince = undefined;
    tm.kept = false;
  } else {
    tm.idleSince ??= now;
  }
}

/**
 * Adds what the TaskManager can give to `pool`: its free slots and, when dynamic, its
 * resources not carved yet. With `asIfEmpty`, everything it has, as if no slot were in use.
 */
export function addToPool(pool: Pool, tm: TaskManagerEntry, asIfEmpty = false): void {
  const { tmId, order } = tm;
  if (tm.dynamicSlots) {
    const carved = asIfEmpty ? [] : [...tm.slots.values()].map((s) => s.profile);
    pool.dynamic.push({
      tmId,
      remaining: subtract(tm.registration.totalResources, sum(carved)),
      defaultSlotProfile: tm.defaultSlotProfile,
      order,
    });
    return;
  }
  for (const slot of tm.slots.values()) {
    if (!asIfEmpty && inUse(slot)) continue;
    const at = order * 1_000_000 + slot.index;
    pool.fixed.push({ tmId, slotId: slot.slotId, profile: slot.profile, order: at });
  }
}

export function infoOf(tm: TaskManagerEntry): TaskManagerInfo {
  const slots = [...tm.slots.values()].sort((a, b) => a.index - b.index);
  const used = sum(slots.filter(inUse).map((s) => s.profile));
  return {
    tmId: tm.tmId,
    subject: tm.registration.subject,
    dynamicSlots: tm.dynamicSlots,
    totalResources: tm.registration.totalResources,
    freeResources: subtract(tm.registration.totalResources, used),
    slots: slots.map((s) => ({
      slotId: s.slotId,
      index: s.index,
      profile: s.profile,
      state: s.state,
      ...(s.jobId ? { jobId: s.jobId } : {}),
      ...(s.allocationId ? { allocationId: s.allocationId } : {}),
      pending: s.pending,
    })),
    registeredAt: tm.registeredAt,
    idleSince: tm.idleSince,
  };
}
