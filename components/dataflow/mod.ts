/**
 * The user API, exported to jobs as `flotilla`: define a job, read sources, transform streams,
 * key them, window them, write sinks. Runtime pieces are in `internal_mod.ts`.
 */
export {
  defineJob,
  type GraphInput,
  isJobDefinition,
  type JobDefinition,
  JobDefinitionError,
  JobEnv,
} from "./api/job.ts";
export type { CheckpointingOptions, JobOptions, RestartStrategy } from "./api/job_options.ts";
export { DataStream, DataStreamSink, KeyedStream, WindowedStream } from "./api/stream.ts";
export type { JobGraph, JobPlan } from "./graph/job_graph.ts";
export type { ResourceSpec } from "./graph/nodes.ts";
export type { KeyedProcessFunction, ProcessContext, TimerContext } from "./operators/process.ts";
export type { AssignTimestampsOptions } from "./operators/timestamps.ts";
export type { WindowResult } from "./operators/window.ts";
export { sinks } from "./sinks/mod.ts";
export { sources } from "./sources/mod.ts";
export type {
  KeyedStateStore,
  ListState,
  MapState,
  RuntimeContext,
  Sink,
  SinkWriter,
  Source,
  SourceBatch,
  SourceReader,
  TimerService,
  Timestamp,
  ValueState,
} from "./types.ts";
export { windows } from "./windows.ts";
