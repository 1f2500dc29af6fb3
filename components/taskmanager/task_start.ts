/**
 * Turns a deployed subtask into a running dataflow Task: its channels, its snapshots, and its
 * callbacks wired to the JobManager (state changes, checkpoint acknowledgements and declines,
 * sources that ended, through the subtask's report queue; collected results, awaited).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, type Logger, snapshotKey, type TaskState } from "../core/mod.ts";
import {
  type ChannelFactory,
  deployTask,
  type JobGraph,
  loadSnapshots,
  type SnapshotStore,
  type Task,
} from "../dataflow/internal_mod.ts";
import type { TaskDescriptor } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import type { JobManagerTaskClient, ReportQueue } from "./reports.ts";

export interface TaskStartOptions {
  /** The data-plane channels of one job attempt. */
  channelsFor(jobId: string, attempt: number): ChannelFactory;
  snapshots: SnapshotStore;
  connectNats?(servers?: string): Promise<NatsConnection>;
  /** A client of the JobManager at `jmSubject` whose calls end within the call deadline. */
  jobManager(jmSubject: string): JobManagerTaskClient;
  log: Logger;
}

/**
 * What a subtask reports and where its snapshots and results go, wherever it runs (in this
 * process, or in a job process, whose messages the TaskManager turns into these calls).
 */
export interface SubtaskReports {
  /** Awaited by the sink, which fails its commit (and the checkpoint) when this fails. */
  publishResults(sinkId: string, values: unknown[], batchId?: string): Promise<void>;
  /** Stores a snapshot under the subtask's own key; resolves with that key (its handle). */
  store(checkpointId: number, bytes: Uint8Array): Promise<string>;
  acknowledge(checkpointId: number, handle: string, bytes: number): void;
  decline(checkpointId: number, reason: string): void;
  sourceEnded(): void;
  stateChanged(
    state: TaskState,
    error?: { code: string; message: string },
    metrics?: Record<string, number>,
  ): void;
}

export function subtaskReports(
  d: TaskDescriptor,
  reports: ReportQueue,
  options: Pick<TaskStartOptions, "snapshots" | "jobManager">,
): SubtaskReports {
  const subtask = { attempt: d.attempt, vertexId: d.vertexId, subtask: d.subtask };
  return {
    publishResults: async (sinkId, values, batchId) => {
      await unwrap(
        options
          .jobManager(d.jmSubject)
          .results.$post({ json: { sinkId, values, ...(batchId ? { batchId } : {}) } }),
      );
    },
    store: async (checkpointId, bytes) => {
      const handle = snapshotKey(d.jobId, checkpointId, d.vertexId, d.subtask);
      await options.snapshots.put(handle, bytes);
      return handle;
    },
    acknowledge: (checkpointId, handle, bytes) =>
      reports.send(`ack of checkpoint ${checkpointId}`, (jm) =>
        jm.checkpoints.ack.$post({ json: { ...subtask, checkpointId, handle, bytes } }),
      ),
    decline: (checkpointId, reason) =>
      reports.send(`decline of checkpoint ${checkpointId}`, (jm) =>
        jm.checkpoints.decline.$post({ json: { ...subtask, checkpointId, reason } }),
      ),
    sourceEnded: () =>
      reports.send("source ended", (jm) => jm.sources.ended.$post({ json: subtask })),
    stateChanged: (state, error, metrics) =>
      reports.send(`state ${state}`, (jm) =>
        jm.tasks.state.$post({
          json: {
            ...subtask,
            state,
            ...(error ? { error: { code: error.code as ErrorCode, message: error.message } } : {}),
            ...(metrics ? { metrics } : {}),
          },
        }),
      ),
  };
}

/** Creates the subtask's Task in this process (not yet running): it reports to `reports`. */
export function createTask(
  d: TaskDescriptor,
  graph: JobGraph,
  reports: ReportQueue,
  options: TaskStartOptions,
): Task {
  const { log } = options;
  const to = subtaskReports(d, reports, options);
  // Assigned once deployTask returns; a state change during it has no counters yet.
  let task: Task | undefined;
  task = deployTask({
    graph,
    jobId: d.jobId,
    vertexId: d.vertexId,
    subtask: d.subtask,
    attempt: d.attempt,
    channels: options.channelsFor(d.jobId, d.attempt),
    services: {
      log,
      args: d.args,
      connectNats: (servers) =>
        options.connectNats?.(servers) ??
        Promise.reject(
          new FlotillaError(ErrorCode.UNAVAILABLE, "this TaskManager was given no NATS connection"),
        ),
      publishResults: to.publishResults,
    },
    checkpointing: {
      store: to.store,
      acknowledge: to.acknowledge,
      decline: to.decline,
      sourceEnded: to.sourceEnded,
    },
    ...(d.restore ? { restore: () => loadSnapshots(options.snapshots, d.restore ?? []) } : {}),
    // Read when the report is made, not when it is sent: the counters at this state.
    onStateChange: (state, error) => to.stateChanged(state, error, task?.metrics()),
  });
  return task;
}
