/**
 * Flink's asynchronous operations over REST: savepoint and stop-with-savepoint are triggered
 * (`202 {"request-id"}`) and polled (`GET /jobs/:jid/savepoints/:triggerid`). Request bodies as
 * zod schemas (what the Dispatcher accepts), response bodies as TS types plus zod schemas.
 */
import { z } from "zod";

/** A trigger id: 32 lowercase hex digits, as Flink's TriggerId. */
export const TRIGGER_ID = /^[0-9a-f]{32}$/;
export const triggerIdSchema = z
  .string()
  .regex(TRIGGER_ID, "a trigger id is 32 lowercase hex digits, as the trigger's request-id");

export const triggerIdParamSchema = z.object({ triggerid: triggerIdSchema });

/**
 * Flink's savepoint format; flotilla writes one format whichever is asked (both accepted so
 * Flink clients' bodies pass).
 */
const formatTypeSchema = z.enum(["CANONICAL", "NATIVE"]);

/**
 * `POST /jobs/:jid/savepoints` (Flink's SavepointTriggerRequestBody), every field optional.
 * `triggerId` chosen by the client makes a retry idempotent: the same id for the same job
 * answers the same operation instead of starting another. `target-directory` is accepted and not
 * used: flotilla keeps savepoints in the cluster's snapshot store under its own key, and the
 * operation's `location` says where (Flink clients read it from there too). `cancel-job: true`
 * is a stop-with-savepoint.
 */
export const savepointTriggerRequestSchema = z.strictObject({
  "target-directory": z.string().max(1024).optional(),
  "cancel-job": z.boolean().optional(),
  triggerId: triggerIdSchema.optional(),
  formatType: formatTypeSchema.optional(),
});
export type SavepointTriggerRequest = z.output<typeof savepointTriggerRequestSchema>;

/**
 * `POST /jobs/:jid/stop` (Flink's StopWithSavepointRequestBody): the job takes a savepoint and
 * ends FINISHED. `drain: true` (sources end, the final watermark flushes every window) is refused
 * with 400: flotilla's stop-with-savepoint suspends the sources instead, so no such flush happens.
 * `targetDirectory`: as the savepoint trigger's `target-directory`.
 */
export const stopWithSavepointRequestSchema = z.strictObject({
  targetDirectory: z.string().max(1024).optional(),
  drain: z.boolean().optional(),
  triggerId: triggerIdSchema.optional(),
  formatType: formatTypeSchema.optional(),
});
export type StopWithSavepointRequest = z.output<typeof stopWithSavepointRequestSchema>;

/** `202` answer of a trigger (Flink's TriggerResponse): poll the operation with this id. */
export interface TriggerResponse {
  "request-id": string;
}
export const triggerResponseSchema = z.object({ "request-id": z.string().regex(TRIGGER_ID) });

/** Flink's QueueStatus. */
export type QueueStatusId = "IN_PROGRESS" | "COMPLETED";

/**
 * Flink's SerializedThrowable as its serializer writes it: the class, the stack trace, and the
 * serialized throwable (base64). flotilla's: "FlotillaError", `<code>: <message>`, and the base64
 * of that text (there is no Java object to serialize).
 */
export interface SerializedThrowable {
  class: string;
  "stack-trace": string;
  "serialized-throwable": string;
}
const serializedThrowableSchema = z.object({
  class: z.string(),
  "stack-trace": z.string(),
  "serialized-throwable": z.string(),
});

/** A savepoint operation's outcome (Flink's SavepointInfo): where it is, or why it failed. */
export type SavepointInfo = { location: string } | { "failure-cause": SerializedThrowable };

/**
 * `GET /jobs/:jid/savepoints/:triggerid` (Flink's AsynchronousOperationResult): a savepoint or a
 * stop, by the `request-id` its trigger answered. `operation` is absent while IN_PROGRESS.
 */
export interface AsynchronousOperationResult {
  status: { id: QueueStatusId };
  operation?: SavepointInfo;
}
export const asynchronousOperationResultSchema = z.union([
  z.object({ status: z.object({ id: z.literal("IN_PROGRESS") }) }),
  z.object({
    status: z.object({ id: z.literal("COMPLETED") }),
    operation: z.union([
      z.object({ location: z.string() }),
      z.object({ "failure-cause": serializedThrowableSchema }),
    ]),
  }),
]);

/**
 * `PATCH /jobs/:jid?mode=`: Flink's TerminationModeQueryParameter, case-insensitive and
 * optional (cancel). `stop` (Flink's old graceful stop) cancels too in flotilla: a graceful stop
 * is `POST /jobs/:jid/stop`.
 */
export const cancelModeQuerySchema = z.strictObject({
  mode: z
    .string()
    .max(16)
    .transform((mode) => mode.toLowerCase())
    .pipe(z.enum(["cancel", "stop"], { message: "mode is cancel or stop" }))
    .optional(),
});
export type CancelModeQuery = z.output<typeof cancelModeQuerySchema>;

/** `202` answer of `PATCH /jobs/:jid` (Flink's EmptyResponseBody: `{}`). */
export type EmptyResponseBody = Record<string, never>;
