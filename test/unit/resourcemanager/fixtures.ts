/** Builders shared by the ResourceManager unit tests: TaskManager registrations and a clock. */

import { slotId, type TaskManagerId } from "../../../components/core/mod.ts";
import type {
  ResourceProfile,
  SlotReport,
  TaskManagerRegistration,
} from "../../../components/protocol/mod.ts";
import {
  SlotManager,
  type SlotManagerAction,
  type SlotManagerOptions,
  sum,
} from "../../../components/resourcemanager/mod.ts";

export const tmId = (name: string) => name as TaskManagerId;

/** A TaskManager with one fixed, free slot per profile. */
export function fixedTaskManager(name: string, slots: ResourceProfile[]): TaskManagerRegistration {
  const id = tmId(name);
  return {
    tmId: id,
    subject: `t.tm.${name}`,
    slots: slots.map((profile, index) => ({
      slotId: slotId(id, index),
      index,
      profile,
      state: "free",
    })),
    totalResources: sum(slots),
  };
}

/** A fine-grained TaskManager: no slots until carved. */
export function dynamicTaskManager(
  name: string,
  total: ResourceProfile,
  extra: Partial<TaskManagerRegistration> = {},
): TaskManagerRegistration {
  return {
    tmId: tmId(name),
    subject: `t.tm.${name}`,
    slots: [],
    totalResources: total,
    dynamicSlots: true,
    ...extra,
  };
}

export function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

export function slotManager(options: SlotManagerOptions = {}) {
  const time = clock();
  return { time, sm: new SlotManager({ now: time.now, ...options }) };
}

export type Allocate = Extract<SlotManagerAction, { kind: "allocate" }>;

export const allocations = (actions: SlotManagerAction[] | undefined) =>
  (actions ?? []).filter((a): a is Allocate => a.kind === "allocate");

export const kinds = (actions: SlotManagerAction[] | undefined) =>
  (actions ?? []).map((a) => a.kind);

/** What a TaskManager would report for a slot the RM allocated (after accepting it). */
export function reportOf(a: Allocate, index: number, state: SlotReport["state"] = "allocated") {
  return {
    slotId: a.slotId,
    index,
    profile: a.profile,
    state,
    ...(state === "free" ? {} : { jobId: a.jobId, allocationId: a.allocationId }),
  } satisfies SlotReport;
}
