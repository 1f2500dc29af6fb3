/**
 * What a TaskManager answers (on `flotilla.<cluster>.tm.<tmId>`): slot allocation from the
 * ResourceManager (fenced by its token), task deployment and control from JobManagers, and
 * heartbeats. The schemas are the contract; the RM and JMs call these routes.
 */
import { z } from "zod";

import { resourceProfileSchema as profileSchema, SlotState } from "../protocol/mod.ts";

// Slot states and profiles are the ResourceManager's contract; a TaskManager reports in them.
export { SlotState };

export interface SlotReport {
  slotId: string;
  index: number;
  profile: z.output<typeof profileSchema>;
  state: SlotState;
  jobId?: string;
  allocationId?: string;
}

export const allocateSchema = z.strictObject({
  jobId: z.string().regex(/^[0-9a-f]{32}$/),
  allocationId: z.string().min(1),
  jmSubject: z.string().min(1),
  profile: profileSchema,
});

export const freeSlotSchema = z.strictObject({ allocationId: z.string().min(1) });

/** Everything a TaskManager needs to run one subtask of one attempt. */
export const taskDescriptorSchema = z.strictObject({
  jobId: z.string().regex(/^[0-9a-f]{32}$/),
  attempt: z.number().int().min(0),
  vertexId: z.string().min(1),
  subtask: z.number().int().min(0),
  allocationId: z.string().min(1),
  jmSubject: z.string().min(1),
  /** sha256 of the job artifact in the blob store. */
  artifact: z.string().regex(/^[0-9a-f]{64}$/),
  args: z.record(z.string(), z.string()).default({}),
  /** The job's parallelism override, so the graph is rebuilt exactly as the JM built it. */
  parallelism: z.number().int().min(1).optional(),
  /** Each vertex's parallelism (the adaptive scheduler's choice), applied by vertex id. */
  vertexParallelism: z.record(z.string(), z.number().int().min(1)).optional(),
  /** Snapshot handles of every old subtask of this vertex, when restoring. */
  restore: z.array(z.string()).optional(),
});
export type TaskDescriptor = z.output<typeof taskDescriptorSchema>;

export const jobAttemptSchema = z.strictObject({ attempt: z.number().int().min(0) });
export const triggerSchema = z.strictObject({
  attempt: z.number().int().min(0),
  final: z.boolean().default(false),
});
