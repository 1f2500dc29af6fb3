/**
 * zod schemas of every body the ResourceManager takes or sends, matching the contracts in
 * types.ts (the `same<>()` checks at the end fail to compile if the two drift apart). Bodies are
 * strict: an unknown field is a 400 naming it.
 */
import { z } from "zod";
import {
  type AllocationId,
  isJobId,
  type JobId,
  type SlotId,
  type TaskManagerId,
} from "../core/mod.ts";
import type {
  AllocateSlotReply,
  AllocateSlotRequest,
  HeartbeatReport,
  RequirementsDeclaration,
  ResourceProfile,
  ResourceRequirement,
  ResourcesUnavailable,
  SlotReport,
  TaskManagerHeartbeat,
  TaskManagerLost,
  TaskManagerRegistration,
} from "./types.ts";

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const token = (what: string) =>
  z.string().regex(TOKEN, `expected a ${what} of 1-64 letters, digits, '-' or '_'`);

export const taskManagerIdSchema = token("TaskManager id").transform((v) => v as TaskManagerId);
export const slotIdSchema = token("slot id").transform((v) => v as SlotId);
export const allocationIdSchema = token("allocation id").transform((v) => v as AllocationId);
export const jobIdSchema = z
  .string()
  .refine(isJobId, "expected a job id of 32 lowercase hex digits")
  .transform((v) => v as JobId);

/** A NATS subject (or in-process name): tokens separated by dots, no spaces or wildcards. */
export const subjectSchema = z
  .string()
  .regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, "expected a NATS subject such as flotilla.default.tm.tm-1");

const amount = z.number().finite().nonnegative();

export const resourceProfileSchema = z.strictObject({
  cpu: amount,
  memoryMb: amount,
  extended: z.record(z.string().min(1), amount).default({}),
});

export const slotReportSchema = z.strictObject({
  slotId: slotIdSchema,
  index: z.number().int().nonnegative(),
  profile: resourceProfileSchema,
  state: z.enum(["free", "allocated", "active", "releasing"]),
  jobId: jobIdSchema.optional(),
  allocationId: allocationIdSchema.optional(),
});

const slotTable = z.array(slotReportSchema).superRefine((slots, ctx) => {
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

export const registrationSchema = z.strictObject({
  tmId: taskManagerIdSchema,
  subject: subjectSchema,
  slots: slotTable.default([]),
  totalResources: resourceProfileSchema,
  dynamicSlots: z.boolean().optional(),
  defaultSlotProfile: resourceProfileSchema.optional(),
});

export const heartbeatReportSchema = z.strictObject({ slots: slotTable });

export const resourceRequirementSchema = z.strictObject({
  profile: resourceProfileSchema,
  count: z.number().int().nonnegative(),
});

export const requirementsDeclarationSchema = z.strictObject({
  jmSubject: subjectSchema,
  requirements: z.array(resourceRequirementSchema),
});

export const tmIdParamSchema = z.object({ tmId: taskManagerIdSchema });
export const jobIdParamSchema = z.object({ jobId: jobIdSchema });
export const slotIdParamSchema = z.object({ slotId: slotIdSchema });

// ---- what the RM sends to TaskManagers and JobManagers ---------------------------------------

export const allocateSlotRequestSchema = z.strictObject({
  jobId: jobIdSchema,
  allocationId: allocationIdSchema,
  jmSubject: subjectSchema,
  profile: resourceProfileSchema,
});

export const allocateSlotReplySchema = z.object({
  slotId: slotIdSchema,
  allocationId: allocationIdSchema,
});

export const taskManagerHeartbeatSchema = z.object({
  tmId: taskManagerIdSchema,
  slots: slotTable,
});

export const resourcesUnavailableSchema = z.strictObject({
  missing: z.array(resourceRequirementSchema),
});

export const taskManagerLostSchema = z.strictObject({ reason: z.string() });

// Compile-time checks that each schema's output is exactly its contract in types.ts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const same = <A, B>(ok: Same<A, B>) => ok;
same<z.output<typeof resourceProfileSchema>, ResourceProfile>(true);
same<z.output<typeof slotReportSchema>, SlotReport>(true);
same<z.output<typeof registrationSchema>, TaskManagerRegistration>(true);
same<z.output<typeof heartbeatReportSchema>, HeartbeatReport>(true);
same<z.output<typeof resourceRequirementSchema>, ResourceRequirement>(true);
same<z.output<typeof requirementsDeclarationSchema>, RequirementsDeclaration>(true);
same<z.output<typeof allocateSlotRequestSchema>, AllocateSlotRequest>(true);
same<z.output<typeof allocateSlotReplySchema>, AllocateSlotReply>(true);
same<z.output<typeof taskManagerHeartbeatSchema>, TaskManagerHeartbeat>(true);
same<z.output<typeof resourcesUnavailableSchema>, ResourcesUnavailable>(true);
same<z.output<typeof taskManagerLostSchema>, TaskManagerLost>(true);
