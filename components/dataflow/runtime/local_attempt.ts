/**
 * One attempt of a job in this process, for the local executor: every task of the graph on
 * in-process channels, attached to the checkpoint coordinator, each task's end reported to the
 * job lifecycle. The lifecycle decides; this only deploys, cancels and reports.
 */
import { cbor, ErrorCode, FlotillaError, TaskState, toFlotillaError } from "../../core/mod.ts";
import type { JobGraph } from "../graph/job_graph.ts";
import { taskKey } from "../lifecycle/types.ts";
import type { TaskServices } from "./chain.ts";
import type { CheckpointCoordinator } from "./coordinator.ts";
import { deployTask, localChannels } from "./deploy.ts";
import type { CompletedCheckpoint, SnapshotStore } from "./snapshot_store.ts";
import type { Task, TaskSnapshot } from "./task.ts";

/** How an attempt's tasks and coordinator reach the job lifecycle. */
export interface AttemptReports {
  taskEnded(attempt: number, task: string, state: TaskState, error?: FlotillaError): void;
  attemptFailed(attempt: number, error: FlotillaError): void;
}

export interface LocalAttemptOptions {
  graph: JobGraph;
  jobId: string;
  attempt: number;
  services: TaskServices;
  coordinator: CheckpointCoordinator;
  store: SnapshotStore;
  restoreFrom: CompletedCheckpoint | undefined;
  reports: AttemptReports;
  channelCredits?: number;
  batchSize?: number;
}

export interface LocalAttempt {
  readonly attempt: number;
  readonly tasks: readonly Task[];
  /**
   * Cancels every task. Returns true when the stop need not wait for the tasks' ends: the
   * attempt was failed because checkpoints kept expiring, so a task is stuck in user code and
   * may never return from run() (its late report is of an old attempt, and ignored).
   */
  stop(reason: string): boolean;
}

export function deployLocalAttempt({
  graph,
  jobId,
  attempt,
  services,
  coordinator,
  store,
  restoreFrom,
  reports,
  channelCredits = 4,
  batchSize,
}: LocalAttemptOptions): LocalAttempt {
  const channels = localChannels({ credits: channelCredits });
  const tasks: Task[] = [];
  for (const v of graph.vertices) {
    const restored = restoreFrom?.vertices[v.id];
    for (let i = 0; i < v.parallelism; i++) {
      tasks.push(
        deployTask({
          graph,
          jobId,
          vertexId: v.id,
          subtask: i,
          attempt,
          channels,
          services,
          checkpointing: coordinator.forTask(v.id, i),
          ...(restored ? { restore: () => loadSnapshots(store, restored.handles) } : {}),
          ...(batchSize ? { batchSize } : {}),
        }),
      );
    }
  }
  const sources = tasks.filter((t) => t.vertex.source);
  let stuck = false;
  coordinator.attach({
    trigger: (id, final) => {
      for (const t of sources) t.triggerCheckpoint(id, final);
    },
    notify: async (id) => {
      await Promise.all(tasks.map((t) => t.notifyCheckpointComplete(id)));
    },
    fail: (reason) => {
      stuck = true;
      reports.attemptFailed(attempt, new FlotillaError(ErrorCode.TIMEOUT, reason));
    },
  });
  for (const t of tasks) {
    const key = taskKey(t.vertex.id, t.subtask);
    t.run().then(
      (end) => reports.taskEnded(attempt, key, end),
      (err: unknown) => reports.taskEnded(attempt, key, TaskState.FAILED, toFlotillaError(err)),
    );
  }
  return {
    attempt,
    tasks,
    stop(reason) {
      // A task that fails to cancel still ends its run(), with the failure: that is its report.
      for (const t of tasks) t.cancel(reason).catch(() => {});
      return stuck;
    },
  };
}

/** The task keys of a graph's attempt, as the lifecycle follows them. */
export function taskKeysOf(graph: JobGraph): string[] {
  return graph.vertices.flatMap((v) =>
    Array.from({ length: v.parallelism }, (_, i) => taskKey(v.id, i)),
  );
}

export async function loadSnapshots(
  store: SnapshotStore,
  handles: string[],
): Promise<(TaskSnapshot | undefined)[]> {
  return await Promise.all(
    handles.map(async (handle) => {
      const bytes = await store.get(handle);
      if (!bytes)
        throw new FlotillaError(
          ErrorCode.NOT_FOUND,
          `snapshot ${handle} is missing from ${store.location}`,
        );
      return cbor.decode(bytes) as TaskSnapshot;
    }),
  );
}
