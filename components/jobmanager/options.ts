/**
 * What a JobManager is created with (`JobManagerOptions`), and the deadlines it takes from the
 * process's compiled config (`jobManagerDeadlinesFrom`), so no call or wait hard-codes its time.
 */
import { type Clock, type Config, configKeys, type JobId, type Logger } from "../core/mod.ts";
import type { CompletedCheckpoint, JobTopology, SnapshotStore } from "../dataflow/internal_mod.ts";
import type { ResourceRequirements } from "../protocol/mod.ts";
import { type CallDeadlines, callDeadlinesFrom, type Transport } from "../rpc/mod.ts";
import type { SchedulerOptions } from "./adaptive.ts";
import type { JobHistoryBounds } from "./job_history.ts";

/** How long the JobManager's calls and waits may take. */
export interface JobManagerDeadlines {
  /** Deadlines of every call to TaskManagers and the ResourceManager (`rpc.timeout`, `rpc.attempt-timeout`). */
  rpc: CallDeadlines;
  /**
   * How long an attempt's canceled tasks may take to report they stopped before the JobManager
   * goes on without them (`task.cancellation.timeout`): a task stuck in user code, or a
   * TaskManager that does not answer, must not hold a restart or a cancel up for good.
   * @default the key's default, 5000
   */
  taskCancellationTimeoutMs?: number;
}

type DeadlineKeys = "rpc.timeout" | "rpc.attempt-timeout" | "task.cancellation.timeout";

export function jobManagerDeadlinesFrom(
  config: Pick<Config, DeadlineKeys>,
): Required<JobManagerDeadlines> {
  return {
    rpc: callDeadlinesFrom(config),
    taskCancellationTimeoutMs: config["task.cancellation.timeout"],
  };
}

/** How much history each JobManager keeps, from the config. */
export function jobHistoryBoundsFrom(
  config: Pick<Config, "web.checkpoints.history" | "web.exception-history-size">,
): Required<JobHistoryBounds> {
  return {
    checkpoints: config["web.checkpoints.history"],
    exceptions: config["web.exception-history-size"],
  };
}

export const DEFAULT_TASK_CANCELLATION_TIMEOUT_MS = Number(
  configKeys["task.cancellation.timeout"].default,
);

export interface JobManagerOptions extends JobManagerDeadlines {
  clusterId: string;
  jobId: JobId;
  graph: JobTopology;
  /** sha256 of the artifact TaskManagers load. */
  artifact: string;
  args?: Record<string, string>;
  /** The job's own secrets: its task descriptors carry them to its code's `env.secret`. */
  secrets?: Record<string, string>;
  /** The parallelism override the graph was built with (TaskManagers rebuild it the same way). */
  parallelism?: number;
  restoreFrom?: CompletedCheckpoint;
  /**
   * The first attempt number. A JobManager recovered after a failover starts above every attempt
   * its predecessor may have deployed, so stale tasks and channels never mix with new ones.
   * @default 0
   */
  firstAttempt?: number;
  transportFor(subject: string): Transport;
  snapshots: SnapshotStore;
  /** Persists completed checkpoints (the HA store). */
  onCheckpoint?(checkpoint: CompletedCheckpoint): Promise<void>;
  /**
   * Fails the job when its slots are not all there after this long (adaptive: not even the lower
   * bound's; reactive: never). @default 300000 (Flink's)
   */
  slotRequestTimeoutMs?: number;
  /** Most values the job's collect sinks may hand back (`collect-sink.max-records`). @default 100000 */
  collectMaxRecords?: number;
  /**
   * The job's topology with each vertex at the given parallelism (`topologyAt(graph, p)`, which
   * gives what `job.graph({ args, parallelism, vertexParallelism })` would without running the
   * job's code): what the adaptive scheduler rescales with. Without it the default scheduler.
   */
  rebuild?(vertexParallelism: Record<string, number>): JobTopology;
  /** The cluster's scheduler settings (`jobmanager.scheduler`, ...); the job's option wins. */
  scheduler?: SchedulerOptions;
  /** Bounds a PUT set before (kept in the job's HA record): the adaptive scheduler starts with them. */
  resourceRequirements?: ResourceRequirements;
  /** Persists bounds a PUT sets, so the next leader's JobManager keeps them; awaited by the PUT. */
  onResourceRequirements?(requirements: ResourceRequirements): Promise<void>;
  /**
   * Whether the JobManager's Dispatcher still leads (its term's fence): once it does not, what
   * its timers and calls come back with is not acted on (a process resumed after a pause may run
   * them before its step-down suspends the JobManager). @default always
   */
  leading?: () => boolean;
  /** Checkpoints and failures kept (`web.checkpoints.history`, `web.exception-history-size`). */
  history?: JobHistoryBounds;
  /** For tests: the stabilization window's clock. */
  clock?: Clock;
  log?: Logger;
}
