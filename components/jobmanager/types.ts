/**
 * What the JobManager of one job answers (on `flotilla.<cluster>.jm.<jobId>`): slot offers and
 * task reports from TaskManagers, resource news from the ResourceManager, and control calls from
 * the Dispatcher. The schemas are the contract; TaskManagers call these routes.
 */
import { z } from "zod";

import { resourceProfileSchema } from "../protocol/mod.ts";

/** The ResourceManager's profile contract. */
export const profileSchema = resourceProfileSchema;
export type Profile = z.output<typeof profileSchema>;

export const slotOfferSchema = z.strictObject({
  tmId: z.string().min(1),
  tmSubject: z.string().min(1),
  slots: z
    .array(
      z.strictObject({
        slotId: z.string().min(1),
        allocationId: z.string().min(1),
        profile: profileSchema,
      }),
    )
    .min(1),
});
export type SlotOffer = z.output<typeof slotOfferSchema>;

export const taskStateSchema = z.enum([
  "deploying",
  "running",
  "finished",
  "canceling",
  "canceled",
  "failed",
]);

export const taskReportSchema = z.strictObject({
  attempt: z.number().int().min(0),
  vertexId: z.string().min(1),
  subtask: z.number().int().min(0),
  state: taskStateSchema,
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  metrics: z.record(z.string(), z.number()).optional(),
});
export type TaskReport = z.output<typeof taskReportSchema>;

/** A TaskManager's periodic metrics of its running tasks of one job (best effort, not ordered). */
export const taskMetricsSchema = z.strictObject({
  attempt: z.number().int().min(0),
  tasks: z.array(
    z.strictObject({
      vertexId: z.string().min(1),
      subtask: z.number().int().min(0),
      metrics: z.record(z.string(), z.number()),
    }),
  ),
});
export type TaskMetricsReport = z.output<typeof taskMetricsSchema>;

export const checkpointAckSchema = z.strictObject({
  attempt: z.number().int().min(0),
  vertexId: z.string().min(1),
  subtask: z.number().int().min(0),
  checkpointId: z.number().int().min(1),
  handle: z.string().min(1),
  bytes: z.number().int().min(0),
});

export const checkpointDeclineSchema = z.strictObject({
  attempt: z.number().int().min(0),
  vertexId: z.string().min(1),
  subtask: z.number().int().min(0),
  checkpointId: z.number().int().min(1),
  reason: z.string(),
});

export const sourceEndedSchema = z.strictObject({
  attempt: z.number().int().min(0),
  vertexId: z.string().min(1),
  subtask: z.number().int().min(0),
});

export const resultsSchema = z.strictObject({
  sinkId: z.string().min(1),
  values: z.array(z.unknown()),
  batchId: z.string().optional(),
});

export const resourcesUnavailableSchema = z.strictObject({
  missing: z.array(z.strictObject({ profile: profileSchema, count: z.number().int().min(1) })),
});

const parallelismBoundsSchema = z
  .strictObject({
    lowerBound: z.number().int().min(1),
    upperBound: z.number().int().min(1).max(32768),
  })
  .refine((b) => b.lowerBound <= b.upperBound, {
    message: "lowerBound must not be above upperBound",
  });

/**
 * `PUT /jobs/:jobId/resource-requirements` (Flink's shape):
 * `{ "<vertexId>": { "parallelism": { "lowerBound": 1, "upperBound": 4 } } }`.
 */
export const resourceRequirementsSchema = z
  .record(z.string().min(1), z.strictObject({ parallelism: parallelismBoundsSchema }))
  .refine((r) => Object.keys(r).length > 0, {
    message:
      'name at least one vertex: { "<vertexId>": { "parallelism": { "lowerBound": 1, "upperBound": 4 } } } (GET shows them)',
  });
export type ResourceRequirements = z.output<typeof resourceRequirementsSchema>;
