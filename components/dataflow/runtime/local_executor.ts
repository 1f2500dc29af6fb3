/**
 * The local executor: runs every task of a job graph in this process, connected by in-process
 * channels, with the same Task code a TaskManager hosts. Its lifecycle decisions (attempts,
 * restarts, savepoints, stop, cancel) come from the shared `JobLifecycle`; this carries them out.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import {
  ErrorCode,
  FlotillaError,
  type JobState,
  type Logger,
  newJobId,
  silentLogger,
  snapshotPrefix,
  toFlotillaError,
} from "../../core/mod.ts";
import type { JobGraph } from "../graph/job_graph.ts";
import { JobLifecycle } from "../lifecycle/job_lifecycle.ts";
import type { JobLifecycleAction, JobOutcome } from "../lifecycle/types.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import {
  type AttemptReports,
  deployLocalAttempt,
  type LocalAttempt,
  taskKeysOf,
} from "./local_attempt.ts";
import { restartPolicy } from "./restart.ts";
import { CommittedResults } from "./results.ts";
import {
  type CompletedCheckpoint,
  loadCheckpoint,
  memorySnapshotStore,
  type SnapshotStore,
} from "./snapshot_store.ts";

export { loadSnapshots } from "./local_attempt.ts";

/** What `JobHandle.status()` shows of a job running in this process. */
export interface LocalJobStatus {
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

/** How a local job ended: the lifecycle's outcome, with what its sinks collected. */
export interface JobResult extends JobOutcome<FlotillaError> {
  jobId: string;
  /** What each `collect` sink committed, by sink id. */
  results: Record<string, unknown[]>;
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
  onStateChange?(status: LocalJobStatus): void;
}

export interface JobHandle {
  readonly jobId: string;
  /**
   * Cancels one running task, as a lost TaskManager would: the attempt fails and the restart
   * strategy decides. For fault injection in tests and the fault suite.
   */
  cancelTask(vertexId: string, subtask: number): Promise<void>;
  readonly result: Promise<JobResult>;
  status(): LocalJobStatus;
  cancel(): Promise<JobResult>;
  /** Takes a savepoint of the running job; resolves with its path in the store. */
  savepoint(): Promise<string>;
  /** Savepoint, then cancel: the job ends FINISHED with the savepoint path in its result. */
  stop(): Promise<JobResult>;
}

export function runLocal(graph: JobGraph, options: LocalRunOptions = {}): JobHandle {
  const jobId = options.jobId ?? newJobId();
  const log = (options.log ?? silentLogger).child({ job: jobId, name: graph.options.name });
  const store = options.store ?? memorySnapshotStore();
  const committed = new CommittedResults();
  const connections = new Map<string, Promise<NatsConnection>>();
  const started = Date.now();
  const lifecycle = new JobLifecycle(jobId, {
    restartPolicy: restartPolicy(graph.options.restartStrategy),
    tasksAt: () => taskKeysOf(graph),
  });
  let coordinator: CheckpointCoordinator | undefined;
  let current: LocalAttempt | undefined;
  const restartTimers = new Set<ReturnType<typeof setTimeout>>();
  let stopCaller: ((error: FlotillaError) => void) | undefined;
  let resolveResult!: (result: JobResult) => void;
  let rejectResult!: (error: unknown) => void;
  const result = new Promise<JobResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });

  function status(): LocalJobStatus {
    const latest = coordinator?.latest;
    return {
      jobId,
      name: graph.options.name,
      state: lifecycle.state,
      attempt: lifecycle.attempt,
      restarts: lifecycle.restarts,
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

  // Actions are carried out in order; one that leads to an event queues that event's actions
  // behind the rest instead of running them inside the switch.
  const queue: JobLifecycleAction[] = [];
  let draining = false;
  function run(actions: readonly JobLifecycleAction[]): void {
    queue.push(...actions);
    if (draining) return;
    draining = true;
    try {
      for (let action = queue.shift(); action; action = queue.shift()) carryOut(action);
    } finally {
      draining = false;
    }
  }

  const reports: AttemptReports = {
    taskEnded: (attempt, task, state, error) =>
      run(lifecycle.taskStateChanged(attempt, task, state, error)),
    attemptFailed: (attempt, error) => run(lifecycle.attemptFailed(attempt, error)),
  };

  function carryOut(action: JobLifecycleAction): void {
    switch (action.kind) {
      case "state":
        log.info({ from: action.from, to: action.to, why: action.why }, "job state");
        options.onStateChange?.({ ...status(), state: action.to });
        return;
      case "await-resources":
        // In one process the resources are this process: they are always there.
        run(lifecycle.resourcesReady());
        return;
      case "deploy":
        deploy(action.attempt);
        return;
      case "stop-attempt": {
        coordinator!.detach();
        const deployed = current?.attempt === action.attempt;
        // Failing a stuck attempt does not wait for the task stuck in user code; an attempt
        // whose deployment threw has no task to wait for.
        const stuck = deployed && current!.stop(action.reason);
        if (stuck || !deployed) run(lifecycle.attemptStopped(action.attempt));
        return;
      }
      case "schedule-restart": {
        log.warn({ delayMs: action.delayMs }, "job attempt failed: restarting");
        const timer = setTimeout(() => {
          restartTimers.delete(timer);
          run(lifecycle.restartDelayElapsed(action.attempt));
        }, action.delayMs);
        restartTimers.add(timer);
        return;
      }
      case "trigger-savepoint":
        coordinator!.triggerSavepoint().then(
          (cp) =>
            run(lifecycle.savepointCompleted(snapshotPrefix(cp.jobId, cp.checkpointId, true))),
          (err: unknown) => run(lifecycle.savepointFailed(toFlotillaError(err))),
        );
        return;
      case "trigger-checkpoint": {
        const done = () =>
          run(
            lifecycle.rescaleCheckpointDone(action.attempt, { proceed: !coordinator!.finishing }),
          );
        coordinator!.triggerCheckpoint().then(done, done);
        return;
      }
      case "stop-failed":
        stopCaller?.(action.error);
        stopCaller = undefined;
        return;
      case "end":
        void end(action.outcome);
        return;
      case "suspend":
        coordinator?.detach();
        for (const timer of restartTimers) clearTimeout(timer);
        return;
    }
  }

  function deploy(attempt: number): void {
    current = undefined;
    try {
      current = deployLocalAttempt({
        graph,
        jobId,
        attempt,
        services,
        coordinator: coordinator!,
        store,
        restoreFrom: coordinator!.latest,
        reports,
        ...(options.channelCredits ? { channelCredits: options.channelCredits } : {}),
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      });
    } catch (err) {
      run(lifecycle.attemptFailed(attempt, toFlotillaError(err)));
    }
  }

  async function end(outcome: JobOutcome<FlotillaError>): Promise<void> {
    coordinator?.detach();
    for (const timer of restartTimers) clearTimeout(timer);
    await Promise.all(
      [...connections.values()].map((c) => c.then((nc) => nc.close()).catch(() => {})),
    );
    resolveResult({
      jobId,
      ...outcome,
      results: committed.bySink,
      durationMs: Date.now() - started,
    });
  }

  async function start(): Promise<void> {
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
      onCompleted: async () => lifecycle.checkpointCompleted(),
    });
    run(lifecycle.resourcesReady());
    run(lifecycle.start());
  }
  start().catch(rejectResult);

  async function savepoint(): Promise<string> {
    lifecycle.checkSavepoint();
    const cp = await coordinator!.triggerSavepoint();
    return snapshotPrefix(cp.jobId, cp.checkpointId, true);
  }

  return {
    jobId,
    result,
    status,
    async cancel() {
      run(lifecycle.cancel());
      return await result;
    },
    async cancelTask(vertexId, subtask) {
      const task = current?.tasks.find((t) => t.vertex.id === vertexId && t.subtask === subtask);
      if (!task)
        throw new FlotillaError(ErrorCode.NOT_FOUND, `no running task ${vertexId}#${subtask}`);
      await task.cancel("canceled by fault injection");
    },
    savepoint,
    async stop() {
      const actions = lifecycle.stopWithSavepoint();
      const stopped = new Promise<JobResult>((resolve, reject) => {
        stopCaller = reject;
        result.then(resolve, reject);
      });
      run(actions);
      return await stopped;
    },
  };
}
