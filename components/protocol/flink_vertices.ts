/**
 * Flink's REST bodies about one vertex of a job (`/jobs/:jid/vertices/:vid`, its watermarks and
 * backpressure), in Flink's JSON field names: a TS type per body plus the zod schema tests
 * validate the Dispatcher's answers against. `:vid` is the vertex's hex id or flotilla's own.
 */
import { z } from "zod";
import {
  type FlinkExecutionState,
  flinkExecutionStateSchema,
  type IOMetricsInfo,
  int,
  ioMetricsInfoSchema,
  long,
  type VertexExtras,
  vertexExtrasSchema,
  vertexHexIdSchema,
} from "./flink_jobs.ts";

// ---- GET /jobs/:jid/vertices/:vid ---------------------------------------------------------------

/**
 * One subtask of `GET /jobs/:jid/vertices/:vid` (Flink's SubtaskExecutionAttemptDetailsInfo).
 * `host` and `taskmanager-id` are the TaskManager's id ("(unassigned)" before it is placed);
 * `start_time` repeats `start-time`, as Flink sends both.
 */
export interface SubtaskExecutionAttemptDetailsInfo {
  subtask: number;
  status: FlinkExecutionState;
  attempt: number;
  host: string;
  "start-time": number;
  "end-time": number;
  duration: number;
  metrics: IOMetricsInfo;
  "taskmanager-id": string;
  start_time: number;
}
export const subtaskExecutionAttemptDetailsInfoSchema = z.object({
  subtask: int,
  status: flinkExecutionStateSchema,
  attempt: int,
  host: z.string(),
  "start-time": long,
  "end-time": long,
  duration: long,
  metrics: ioMetricsInfoSchema,
  "taskmanager-id": z.string(),
  start_time: long,
});

/** `GET /jobs/:jid/vertices/:vid` (Flink's JobVertexDetailsInfo). `:vid` is the hex id or flotilla's. */
export interface JobVertexDetailsInfo {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  now: number;
  subtasks: SubtaskExecutionAttemptDetailsInfo[];
  flotilla: VertexExtras;
}
export const jobVertexDetailsInfoSchema = z.object({
  id: vertexHexIdSchema,
  name: z.string(),
  parallelism: int,
  maxParallelism: int,
  now: long,
  subtasks: z.array(subtaskExecutionAttemptDetailsInfoSchema),
  flotilla: vertexExtrasSchema,
});

// ---- GET /jobs/:jid/vertices/:vid/watermarks ----------------------------------------------------

/** A metric as Flink's metric routes answer it: the value is a string. */
export interface FlinkMetric {
  id: string;
  value: string;
}

/**
 * `GET .../watermarks`: `<subtask>.currentInputWatermark` per subtask that reported one. Flink's
 * MetricCollectionResponseBody is sent as a bare array (its serializer; the generated reference
 * shows `{metrics: [...]}`): this follows what Flink sends.
 */
export type WatermarksInfo = FlinkMetric[];
export const watermarksInfoSchema = z.array(z.object({ id: z.string(), value: z.string() }));

// ---- GET /jobs/:jid/vertices/:vid/backpressure --------------------------------------------------

export type BackPressureLevel = "ok" | "low" | "high";
const backPressureLevelSchema = z.enum(["ok", "low", "high"]);

/** Flink's thresholds on the back-pressured ratio: up to 10% ok, up to 50% low, above high. */
export const BACKPRESSURE_LOW_RATIO = 0.1;
export const BACKPRESSURE_HIGH_RATIO = 0.5;

export function backPressureLevel(ratio: number): BackPressureLevel {
  return ratio <= BACKPRESSURE_LOW_RATIO ? "ok" : ratio <= BACKPRESSURE_HIGH_RATIO ? "low" : "high";
}

/** One subtask's share of the last second back-pressured, idle and busy (0..1). */
export interface SubtaskBackPressureInfo {
  subtask: number;
  "backpressure-level": BackPressureLevel;
  ratio: number;
  idleRatio: number;
  busyRatio: number;
}

/**
 * `GET .../backpressure` (Flink's JobVertexBackPressureInfo), from the subtasks' reported
 * `backPressuredTimeMsPerSecond`, `idleTimeMsPerSecond` and `busyTimeMsPerSecond`. As in Flink,
 * `{"status": "deprecated"}` alone when no subtask has reported them (the job is not running).
 */
export type JobVertexBackPressureInfo =
  | { status: "deprecated" }
  | {
      status: "ok";
      "backpressure-level": BackPressureLevel;
      "end-timestamp": number;
      subtasks: SubtaskBackPressureInfo[];
    };
export const jobVertexBackPressureInfoSchema = z.union([
  z.object({
    status: z.literal("ok"),
    "backpressure-level": backPressureLevelSchema,
    "end-timestamp": long,
    subtasks: z.array(
      z.object({
        subtask: int,
        "backpressure-level": backPressureLevelSchema,
        ratio: z.number().min(0).max(1),
        idleRatio: z.number().min(0).max(1),
        busyRatio: z.number().min(0).max(1),
      }),
    ),
  }),
  z.object({ status: z.literal("deprecated") }),
]);
