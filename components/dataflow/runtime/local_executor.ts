/**
 * The local executor: runs every task of a job graph in this process, connected by in-process
 * channels, with the same Task code a TaskManager hosts. It owns the job's lifecycle: attempts,
 * the checkpoint coordinator, restarts by strategy from the latest checkpoint, savepoints, stop.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import {
  cbor,
  ErrorCode,
  FlotillaError,
  type Logger,
  newJobId,
  silentLogger,
  toFlotillaError,
} from "../../core/mod.ts";
import type { JobGraph } from "../graph/job_graph.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import { deployTask, localChannels } from "./deploy.ts";
import { restartPolicy } from "./restart.ts";
import { CommittedResults } from "./results.ts";
import {
  type CompletedCheckpoint,
  loadCheckpoint,
  memorySnapshotStore,
  type SnapshotStore,
} from "./snapshot_store.ts";
import { type Task, type TaskSnapshot, TaskState } from "./task.ts";

/**
 * Job states (Flink's). The local executor goes from running straight to restarting; a JobManager
 * passes through failing while it stops the attempt, and is suspended (no result: the job is
 * not over) when its Dispatcher loses leadership and the next leader takes the job over.
 */
export const JobState = {
  CREATED: "created",
  RUNNING: "running",
  FAILING: "failing",
  RESTARTING: "restarting",
  CANCELING: "canceling",
  FINISHED: "finished",
  CANCELED: "canceled",
  FAILED: "failed",
  SUSPENDED: "suspended",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

export interface JobStatus {
  jobId: string;
  name: string;
  state: JobState;
  attempt: number;
  restarts: number;
  checkpoints: number;
  lastCheckpoint?: { id: number; timestamp: number };
  vertices: Array<{
    id: string;
    name: string;
    parallelism: number;
    tasks: Record<string, number>;
    recordsIn: number;
    recordsOut: number;
  }>;
}

export interface JobResult {
  jobId: string;
  state: "finished" | "canceled" | "failed";
  error?: FlotillaError;
  /** What each `collect` sink committed, by sink id. */
  results: Record<string, unknown[]>;
  restarts: number;
  checkpoints: number;
  savepoint?: string;
  durationMs: number;
}

export interface LocalRunOptions {
  jobId?: string;
  args?: Record<string, string>;
  log?: Logger;
  /** Where checkpoints and savepoints go. @default in memory */
  store?: SnapshotStore;
  /** A savepoint path in `store` (as `savepoint()` returned) or a completed checkpoint to start from. */
  restoreFrom?: string | CompletedCheckpoint;
  /** Default server for sources and sinks that use NATS. */
  natsUrl?: string;
  /** Batches a channel may hold before its sender waits. @default 4 */
  channelCredits?: number;
  /** Records per output batch. @default 1000 */
  batchSize?: number;
  /** Called on every job state change. */
  onStateChange?(status: JobStatus): void;
}

export interface JobHandle {
  readonly jobId: string;
  /**
   * Cancels one running task, as a lost TaskManager would: the attempt fails and the restart
   * strategy decides. For fault injection in tests and the fault suite.
   */
  cancelTask(vertexId: string, subtask: number): Promise<void>;
  readonly result: Promise<JobResult>;
  status(): JobStatus;
  cancel(): Promise<JobResult>;
  /** Takes a savepoint of the running job; resolves with its path in the store. */
  savepoint(): Promise<string>;
  /** Savepoint, then cancel: the job ends FINISHED with the savepoint path in its result. */
  stop(): Promise<JobResult>;
}

interface Attempt {
  tasks: Task[];
  done: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runLocal(graph: JobGraph, options: LocalRunOptions = {}): JobHandle {
  const jobId = options.jobId ?? newJobId();
  const log = (options.log ?? silentLogger).child({ job: jobId, name: graph.options.name });
  const store = options.store ?? memorySnapshotStore();
  const committed = new CommittedResults();
  const connections = new Map<string, Promise<NatsConnection>>();
  const started = Date.now();
  let state: JobState = JobState.CREATED;
  let attemptNo = 0;
  let restarts = 0;
  let current: Attempt | undefined;
  let canceled = false;
  let stopSavepoint: string | undefined;
  let coordinator: CheckpointCoordinator | undefined;

  const setState = (next: JobState) => {
    state = next;
    options.onStateChange?.(status());
  };

  function status(): JobStatus {
    const latest = coordinator?.latest;
    return {
      jobId,
      name: graph.options.name,
      state,
      attempt: attemptNo,
      restarts,
      checkpoints: coordinator?.completed ?? 0,
      ...(latest
        ? { lastCheckpoint: { id: latest.checkpointId, timestamp: latest.timestamp } }
        : {}),
      vertices: graph.vertices.map((v) => {
        const tasks = current?.tasks.filter((t) => t.vertex === v) ?? [];
        const counts: Record<string, number> = {};
        for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
        const metrics = tasks.map((t) => t.metrics());
        return {
          id: v.id,
          name: v.name,
          parallelism: v.parallelism,
          tasks: counts,
          recordsIn: metrics.reduce((n, m) => n + (m.recordsIn ?? 0), 0),
          recordsOut: metrics.reduce((n, m) => n + (m.recordsOut ?? 0), 0),
        };
      }),
    };
  }

  const services = {
    log,
    args: options.args ?? {},
    connectNats(servers?: string): Promise<NatsConnection> {
      const url = servers ?? options.natsUrl;
      if (!url) {
        return Promise.reject(
          new FlotillaError(
            ErrorCode.INVALID_ARGUMENT,
            "this job uses NATS but no server was given (set nats.url or the source's servers)",
          ),
        );
      }
      let conn = connections.get(url);
      if (!conn) {
        conn = connect({ servers: url, maxReconnectAttempts: -1 });
        connections.set(url, conn);
        conn.catch(() => connections.delete(url));
      }
      return conn;
    },
    async publishResults(sinkId: string, values: unknown[], batchId?: string) {
      committed.add(sinkId, values, batchId);
    },
  };

  function deploy(restoreFrom: CompletedCheckpoint | undefined): Attempt {
    const channels = localChannels({ credits: options.channelCredits ?? 4 });
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
            attempt: attemptNo,
            channels,
            services,
            checkpointing: coordinator!.forTask(v.id, i),
            ...(restored ? { restore: () => loadSnapshots(store, restored.handles) } : {}),
            ...(options.batchSize ? { batchSize: options.batchSize } : {}),
          }),
        );
      }
    }
    const sources = tasks.filter((t) => t.vertex.source);
    let failAttempt!: (err: FlotillaError) => void;
    // A stuck task may never return from run(): failing the attempt does not wait for it.
    const failed = new Promise<never>((_, reject) => {
      failAttempt = reject;
    });
    coordinator!.attach({
      trigger: (id, final) => {
        for (const t of sources) t.triggerCheckpoint(id, final);
      },
      notify: async (id) => {
        await Promise.all(tasks.map((t) => t.notifyCheckpointComplete(id)));
      },
      fail: (reason) => {
        for (const t of tasks) void t.cancel(reason);
        failAttempt(new FlotillaError(ErrorCode.TIMEOUT, reason));
      },
    });
    const done = Promise.race([runAll(tasks), failed]);
    return { tasks, done };
  }

  async function runAll(tasks: Task[]): Promise<void> {
    let failure: unknown;
    const fail = async (err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      await Promise.all(tasks.map((other) => other.cancel("another task failed")));
    };
    await Promise.all(
      tasks.map((t) =>
        t.run().then(
          // A task canceled on its own (not with the job) is a failure of the attempt.
          (end) =>
            end === TaskState.CANCELED && !canceled && failure === undefined
              ? fail(new FlotillaError(ErrorCode.CANCELED, `task ${t.vertex.name} was canceled`))
              : undefined,
          fail,
        ),
      ),
    );
    if (failure !== undefined) throw failure;
  }

  async function execute(): Promise<JobResult> {
    const restoreFrom =
      typeof options.restoreFrom === "string"
        ? await loadCheckpoint(store, options.restoreFrom)
        : options.restoreFrom;
    coordinator = new CheckpointCoordinator({
      jobId,
      graph,
      store,
      log,
      ...(restoreFrom ? { restoredFrom: restoreFrom } : {}),
    });
    const policy = restartPolicy(graph.options.restartStrategy);
    for (;;) {
      setState(JobState.RUNNING);
      current = deploy(coordinator.latest);
      try {
        await current.done;
        coordinator.detach();
        if (canceled) return finish("canceled");
        return finish("finished");
      } catch (err) {
        coordinator.detach();
        if (canceled) return finish("canceled");
        const error = toFlotillaError(err);
        const decision = policy.onFailure(Date.now());
        log.warn(
          { err: error.message, restart: decision.restart, delayMs: decision.delayMs },
          "job attempt failed",
        );
        if (!decision.restart)
          return finish(
            "failed",
            new FlotillaError(error.code, `${error.message} (${decision.reason})`, {
              cause: error,
            }),
          );
        setState(JobState.RESTARTING);
        await sleep(decision.delayMs);
        if (canceled) return finish("canceled");
        attemptNo++;
        restarts++;
      }
    }
  }

  async function finish(
    end: "finished" | "canceled" | "failed",
    error?: FlotillaError,
  ): Promise<JobResult> {
    await Promise.all(
      [...connections.values()].map((c) => c.then((nc) => nc.close()).catch(() => {})),
    );
    const finalState = stopSavepoint
      ? JobState.FINISHED
      : end === "finished"
        ? JobState.FINISHED
        : end === "canceled"
          ? JobState.CANCELED
          : JobState.FAILED;
    setState(finalState);
    return {
      jobId,
      state: stopSavepoint ? "finished" : end,
      ...(error ? { error } : {}),
      results: committed.bySink,
      restarts,
      checkpoints: coordinator?.completed ?? 0,
      ...(stopSavepoint ? { savepoint: stopSavepoint } : {}),
      durationMs: Date.now() - started,
    };
  }

  const result = execute();

  async function cancel(): Promise<JobResult> {
    if (!canceled && state !== JobState.FINISHED && state !== JobState.FAILED) {
      canceled = true;
      setState(JobState.CANCELING);
      await Promise.all(current?.tasks.map((t) => t.cancel("job canceled")) ?? []);
    }
    return await result;
  }

  async function savepoint(): Promise<string> {
    if (!coordinator || state !== JobState.RUNNING) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `job ${jobId} is ${state}: savepoints need a running job`,
      );
    }
    const cp = await coordinator.triggerSavepoint();
    return `savepoints/${cp.jobId}/${cp.checkpointId}`;
  }

  return {
    jobId,
    result,
    status,
    cancel,
    async cancelTask(vertexId, subtask) {
      const task = current?.tasks.find((t) => t.vertex.id === vertexId && t.subtask === subtask);
      if (!task)
        throw new FlotillaError(ErrorCode.NOT_FOUND, `no running task ${vertexId}#${subtask}`);
      await task.cancel("canceled by fault injection");
    },
    savepoint,
    async stop() {
      stopSavepoint = await savepoint();
      return await cancel();
    },
  };
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

export { TaskState };
