/**
 * The resource vocabulary every block shares: what a slot offers or a requirement needs
 * (`ResourceProfile`), a slot as its TaskManager reports it (`SlotReport`), and a job's
 * requirement (`ResourceRequirement`). The ResourceManager's protocol is built from these.
 */
import { z } from "zod";
import type { AllocationId, JobId, SlotId } from "../core/mod.ts";
import { allocationIdSchema, jobIdSchema, same, slotIdSchema } from "./common.ts";

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

/** `count` slots, each offering at least `profile`. */
export interface ResourceRequirement {
  profile: ResourceProfile;
  count: number;
}

const amount = z.number().finite().nonnegative();

/** Most extended resources (GPUs, ...) one profile names. */
export const MAX_EXTENDED_RESOURCES = 16;

export const resourceProfileSchema = z.strictObject({
  cpu: amount,
  memoryMb: amount,
  extended: z
    .record(z.string().min(1).max(64), amount)
    .refine(
      (extended) => Object.keys(extended).length <= MAX_EXTENDED_RESOURCES,
      `at most ${MAX_EXTENDED_RESOURCES} extended resources`,
    )
    .default({}),
});

export const slotReportSchema = z.strictObject({
  slotId: slotIdSchema,
  index: z.number().int().nonnegative(),
  profile: resourceProfileSchema,
  state: z.enum(["free", "allocated", "active", "releasing"]),
  jobId: jobIdSchema.optional(),
  allocationId: allocationIdSchema.optional(),
});

/** Most slots one TaskManager offers (`taskmanager.slots` allows as many). */
export const MAX_SLOTS_PER_TASKMANAGER = 1024;

/** A complete slot table: every slot once, and every slot in use names its job. */
export const slotTableSchema = z
  .array(slotReportSchema)
  .max(MAX_SLOTS_PER_TASKMANAGER)
  .superRefine((slots, ctx) => {
    const ids = new Set<string>();
    const indexes = new Set<number>();
    for (const [i, slot] of slots.entries()) {
      if (ids.has(slot.slotId) || indexes.has(slot.index)) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `slot ${slot.slotId} (index ${slot.index}) appears twice in the slot table`,
        });
      }
      if (slot.state !== "free" && !slot.jobId) {
        ctx.addIssue({
          code: "custom",
          path: [i, "jobId"],
          message: `a ${slot.state} slot needs its jobId`,
        });
      }
      ids.add(slot.slotId);
      indexes.add(slot.index);
    }
  });

/** Most slots of one profile a job may declare: Flink's highest parallelism. */
export const MAX_SLOTS_PER_REQUIREMENT = 32_768;

export const resourceRequirementSchema = z.strictObject({
  profile: resourceProfileSchema,
  count: z.number().int().nonnegative().max(MAX_SLOTS_PER_REQUIREMENT),
});

/** Most different profiles one job asks for (one per slot sharing group is the usual case). */
export const MAX_PROFILES_PER_JOB = 64;

/**
 * What one job asks for: at most `MAX_PROFILES_PER_JOB` profiles, and at most
 * `MAX_SLOTS_PER_REQUIREMENT` slots in all, so no declaration makes the RM walk more.
 */
export const jobRequirementsSchema = z
  .array(resourceRequirementSchema)
  .max(MAX_PROFILES_PER_JOB)
  .refine(
    (requirements) =>
      requirements.reduce((total, r) => total + r.count, 0) <= MAX_SLOTS_PER_REQUIREMENT,
    `at most ${MAX_SLOTS_PER_REQUIREMENT} slots in all`,
  );

same<z.output<typeof resourceProfileSchema>, ResourceProfile>(true);
same<z.output<typeof slotReportSchema>, SlotReport>(true);
same<z.output<typeof resourceRequirementSchema>, ResourceRequirement>(true);
