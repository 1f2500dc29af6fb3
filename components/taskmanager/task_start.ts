/**
 * Turns a deployed subtask into a running dataflow Task: its channels, its snapshots, and its
 * callbacks wired to the JobManager (state changes, checkpoint acknowledgements and declines,
 * sources that ended, through the subtask's report queue; collected results, awaited).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, type Logger, snapshotKey } from "../core/mod.ts";
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

/** Creates the subtask's Task (not yet running): every report it makes goes to `reports`. */
export function createTask(
  d: TaskDescriptor,
  graph: JobGraph,
  reports: ReportQueue,
  options: TaskStartOptions,
): Task {
  const { log } = options;
  const subtask = { attempt: d.attempt, vertexId: d.vertexId, subtask: d.subtask };
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
      // Awaited by the sink, which fails its commit (and the checkpoint) when this fails.
      publishResults: async (sinkId, values, batchId) => {
        await unwrap(
          options
            .jobManager(d.jmSubject)
            .results.$post({ json: { sinkId, values, ...(batchId ? { batchId } : {}) } }),
        );
      },
    },
    checkpointing: {
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
    },
    ...(d.restore ? { restore: () => loadSnapshots(options.snapshots, d.restore ?? []) } : {}),
    onStateChange: (state, error) => {
      // Read when the report is made, not when it is sent: the counters at this state.
      const metrics = task?.metrics();
      reports.send(`state ${state}`, (jm) =>
        jm.tasks.state.$post({
          json: {
            ...subtask,
            state,
            ...(error ? { error: { code: error.code, message: error.message } } : {}),
            ...(metrics ? { metrics } : {}),
          },
        }),
      );
    },
  });
  return task;
}
