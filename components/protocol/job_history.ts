/**
 * What a JobManager serves about a job's history, in Flink's REST field names so the Dispatcher's
 * Flink routes pass it through unchanged: checkpoint statistics (`CheckpointingStatistics`, one
 * checkpoint's details, a vertex's per-subtask details), the checkpoint config and the exception
 * history (`JobExceptionsInfoWithHistory`); and the bounded archive a job's result keeps of it.
 * Where flotilla measures nothing Flink reports (sync/async split, alignment, unaligned data),
 * the value is Flink's neutral one (0, false) and the API doc says so.
 */
import { z } from "zod";
import { checkpointIdSchema, vertexIdSchema } from "./common.ts";

const count = z.number().int().min(0);
/** Epoch ms; `-1`/`0` where Flink sends them for "not yet". */
const time = z.number().int().min(-1);
const bytes = count;

// ---- checkpoint statistics --------------------------------------------------------------------

/** Flink's `StatsSummaryDto`: over the completed checkpoints; all 0 before the first one. */
export const statsSummarySchema = z.strictObject({
  min: z.number(),
  max: z.number(),
  avg: z.number(),
  p50: z.number(),
  p90: z.number(),
  p95: z.number(),
  p99: z.number(),
  p999: z.number(),
});
export type StatsSummary = z.output<typeof statsSummarySchema>;

export const checkpointCountsSchema = z.strictObject({
  restored: count,
  total: count,
  in_progress: count,
  completed: count,
  failed: count,
});
export type CheckpointCounts = z.output<typeof checkpointCountsSchema>;

/** `CheckpointingStatistics.summary`. alignment_buffered, persisted_data: always 0 (not measured). */
export const checkpointSummarySchema = z.strictObject({
  checkpointed_size: statsSummarySchema,
  state_size: statsSummarySchema,
  end_to_end_duration: statsSummarySchema,
  alignment_buffered: statsSummarySchema,
  processed_data: statsSummarySchema,
  persisted_data: statsSummarySchema,
});
export type CheckpointSummary = z.output<typeof checkpointSummarySchema>;

export const checkpointStatusSchema = z.enum(["IN_PROGRESS", "COMPLETED", "FAILED"]);
export type CheckpointStatus = z.output<typeof checkpointStatusSchema>;

/** The sizes and times Flink reports for a checkpoint, a vertex of it, alike. */
const checkpointFigures = {
  id: checkpointIdSchema,
  status: checkpointStatusSchema,
  latest_ack_timestamp: time,
  checkpointed_size: bytes,
  state_size: bytes,
  end_to_end_duration: count,
  alignment_buffered: bytes,
  processed_data: bytes,
  persisted_data: bytes,
  num_subtasks: count,
  num_acknowledged_subtasks: count,
};

/** Flink's `TaskCheckpointStatistics`: one vertex's part of a checkpoint. */
export const taskCheckpointStatisticsSchema = z.strictObject(checkpointFigures);
export type TaskCheckpointStatistics = z.output<typeof taskCheckpointStatisticsSchema>;

/** A vertex id as Flink's REST API spells it (core's `vertexHexId`). */
export const vertexHexIdSchema = z.string().regex(/^[0-9a-f]{32}$/, "32 lowercase hex digits");

const checkpointStatisticsBase = {
  ...checkpointFigures,
  is_savepoint: z.boolean(),
  trigger_timestamp: time,
  checkpoint_type: z.enum(["CHECKPOINT", "UNALIGNED_CHECKPOINT", "SAVEPOINT", "SYNC_SAVEPOINT"]),
  /** Per vertex, by its hex id: filled in a checkpoint's details, `{}` in the history (as Flink). */
  tasks: z.record(vertexHexIdSchema, taskCheckpointStatisticsSchema),
};

/** Flink's `CheckpointStatistics`, its subtype named by `className` as Flink's Jackson does. */
export const completedCheckpointStatisticsSchema = z.strictObject({
  className: z.literal("completed"),
  ...checkpointStatisticsBase,
  external_path: z.string().nullable(),
  /** Subsumed by a later checkpoint (its files deleted). */
  discarded: z.boolean(),
});
export const failedCheckpointStatisticsSchema = z.strictObject({
  className: z.literal("failed"),
  ...checkpointStatisticsBase,
  failure_timestamp: time,
  failure_message: z.string().nullable(),
});
export const pendingCheckpointStatisticsSchema = z.strictObject({
  className: z.literal("in_progress"),
  ...checkpointStatisticsBase,
});
export const checkpointStatisticsSchema = z.discriminatedUnion("className", [
  completedCheckpointStatisticsSchema,
  failedCheckpointStatisticsSchema,
  pendingCheckpointStatisticsSchema,
]);
export type CompletedCheckpointStatistics = z.output<typeof completedCheckpointStatisticsSchema>;
export type FailedCheckpointStatistics = z.output<typeof failedCheckpointStatisticsSchema>;
export type PendingCheckpointStatistics = z.output<typeof pendingCheckpointStatisticsSchema>;
export type CheckpointStatistics = z.output<typeof checkpointStatisticsSchema>;

export const restoredCheckpointStatisticsSchema = z.strictObject({
  id: checkpointIdSchema,
  restore_timestamp: time,
  is_savepoint: z.boolean(),
  external_path: z.string().nullable(),
});
export type RestoredCheckpointStatistics = z.output<typeof restoredCheckpointStatisticsSchema>;

/** `GET /jobs/:jid/checkpoints` (Flink's `CheckpointingStatistics`): `null` where none yet. */
export const checkpointingStatisticsSchema = z.strictObject({
  counts: checkpointCountsSchema,
  summary: checkpointSummarySchema,
  latest: z.strictObject({
    completed: completedCheckpointStatisticsSchema.nullable(),
    savepoint: completedCheckpointStatisticsSchema.nullable(),
    failed: failedCheckpointStatisticsSchema.nullable(),
    restored: restoredCheckpointStatisticsSchema.nullable(),
  }),
  /** The last `web.checkpoints.history` checkpoints, newest first. */
  history: z.array(checkpointStatisticsSchema),
});
export type CheckpointingStatistics = z.output<typeof checkpointingStatisticsSchema>;

// ---- one vertex's subtasks in one checkpoint ---------------------------------------------------

/** sync/async and alignment: not measured by flotilla's runtime, Flink's neutral 0. */
const subtaskDurations = z.strictObject({ sync: count, async: count });
const subtaskAlignment = z.strictObject({
  buffered: bytes,
  processed: bytes,
  persisted: bytes,
  duration: count,
});

export const completedSubtaskCheckpointSchema = z.strictObject({
  className: z.literal("completed"),
  index: count,
  status: z.literal("completed"),
  ack_timestamp: time,
  end_to_end_duration: count,
  checkpointed_size: bytes,
  state_size: bytes,
  checkpoint: subtaskDurations,
  alignment: subtaskAlignment,
  start_delay: count,
  unaligned_checkpoint: z.boolean(),
  aborted: z.boolean(),
});
export const pendingSubtaskCheckpointSchema = z.strictObject({
  className: z.literal("pending"),
  index: count,
  status: z.literal("pending_or_failed"),
});
export const subtaskCheckpointStatisticsSchema = z.discriminatedUnion("className", [
  completedSubtaskCheckpointSchema,
  pendingSubtaskCheckpointSchema,
]);
export type SubtaskCheckpointStatistics = z.output<typeof subtaskCheckpointStatisticsSchema>;

/**
 * `GET /jobs/:jid/checkpoints/details/:cid/subtasks/:vid` (Flink's
 * `TaskCheckpointStatisticsWithSubtaskDetails`).
 */
export const taskCheckpointWithSubtasksSchema = z.strictObject({
  ...checkpointFigures,
  summary: z.strictObject({
    checkpointed_size: statsSummarySchema,
    state_size: statsSummarySchema,
    end_to_end_duration: statsSummarySchema,
    checkpoint_duration: z.strictObject({ sync: statsSummarySchema, async: statsSummarySchema }),
    alignment: z.strictObject({
      buffered: statsSummarySchema,
      processed: statsSummarySchema,
      persisted: statsSummarySchema,
      duration: statsSummarySchema,
    }),
    start_delay: statsSummarySchema,
  }),
  subtasks: z.array(subtaskCheckpointStatisticsSchema),
});
export type TaskCheckpointWithSubtasks = z.output<typeof taskCheckpointWithSubtasksSchema>;

// ---- checkpoint config -------------------------------------------------------------------------

/**
 * `GET /jobs/:jid/checkpoints/config` (Flink's `CheckpointConfigInfo`); a job without
 * checkpointing answers 404 there, as Flink does. flotilla's checkpoints are aligned and
 * exactly-once, one at a time, kept in the cluster's snapshot store.
 */
export const checkpointConfigInfoSchema = z.strictObject({
  mode: z.enum(["EXACTLY_ONCE", "AT_LEAST_ONCE"]),
  interval: count,
  timeout: count,
  min_pause: count,
  max_concurrent: count,
  externalization: z.strictObject({ enabled: z.boolean(), delete_on_cancellation: z.boolean() }),
  state_backend: z.string(),
  checkpoint_storage: z.string(),
  unaligned_checkpoints: z.boolean(),
  tolerable_failed_checkpoints: count,
  aligned_checkpoint_timeout: count,
  checkpoints_after_tasks_finish: z.boolean(),
  state_changelog_enabled: z.boolean(),
  changelog_periodic_materialization_interval: count,
  changelog_storage: z.string(),
});
export type CheckpointConfigInfo = z.output<typeof checkpointConfigInfoSchema>;

// ---- exceptions --------------------------------------------------------------------------------

/** Flink's `ExceptionInfo`: where and when one failure happened. `null` where no task was. */
export const exceptionInfoSchema = z.strictObject({
  exceptionName: z.string(),
  stacktrace: z.string(),
  timestamp: time,
  taskName: z.string().nullable(),
  /** Flink's deprecated spelling of `endpoint`, still sent. */
  location: z.string().nullable(),
  endpoint: z.string().nullable(),
  taskManagerId: z.string().nullable(),
  failureLabels: z.record(z.string(), z.string()),
});
export type ExceptionInfo = z.output<typeof exceptionInfoSchema>;

/** Flink's `RootExceptionInfo`: a failure that restarted (or failed) the job, and what failed with it. */
export const rootExceptionInfoSchema = z.strictObject({
  ...exceptionInfoSchema.shape,
  concurrentExceptions: z.array(exceptionInfoSchema),
});
export type RootExceptionInfo = z.output<typeof rootExceptionInfoSchema>;

/** Flink's deprecated `ExecutionExceptionInfo` (`all-exceptions`): the latest attempt's failures. */
export const executionExceptionInfoSchema = z.strictObject({
  exception: z.string(),
  task: z.string().nullable(),
  location: z.string().nullable(),
  endpoint: z.string().nullable(),
  taskManagerId: z.string().nullable(),
  timestamp: time,
});
export type ExecutionExceptionInfo = z.output<typeof executionExceptionInfoSchema>;

/** `GET /jobs/:jid/exceptions` (Flink's `JobExceptionsInfoWithHistory`). */
export const jobExceptionsSchema = z.strictObject({
  "root-exception": z.string().nullable(),
  timestamp: time.nullable(),
  "all-exceptions": z.array(executionExceptionInfoSchema),
  truncated: z.boolean(),
  exceptionHistory: z.strictObject({
    /** Newest first, at most `maxExceptions` and `web.exception-history-size`. */
    entries: z.array(rootExceptionInfoSchema),
    truncated: z.boolean(),
  }),
});
export type JobExceptions = z.output<typeof jobExceptionsSchema>;

/** Flink's default and our bound of `?maxExceptions=`. */
export const DEFAULT_MAX_EXCEPTIONS = 20;
export const MAX_EXCEPTIONS_QUERY = 1000;
export const exceptionsQuerySchema = z.strictObject({
  maxExceptions: z.coerce.number().int().min(1).max(MAX_EXCEPTIONS_QUERY).optional(),
});
export type ExceptionsQuery = z.output<typeof exceptionsQuerySchema>;

/** `/checkpoints/details/:checkpointId` and `.../subtasks/:vertexId` (hex or flotilla id). */
export const checkpointDetailsParamSchema = z.object({
  checkpointId: z.coerce.number().int().min(1),
});
export const checkpointVertexParamSchema = z.object({
  checkpointId: z.coerce.number().int().min(1),
  vertexId: vertexIdSchema,
});
