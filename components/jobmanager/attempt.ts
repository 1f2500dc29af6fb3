/**
 * One attempt of the job as its JobManager places and follows it: which slot each subtask runs
 * in (subtask i of every vertex of a slot-sharing group shares the group's slot i, as Flink's
 * slot sharing), the descriptor that deploys it, its last state and counters, and the job
 * details' per-vertex view. Pure: it calls nothing and keeps no timers.
 */
import { isTaskEnd, type JobId, type TaskManagerId, TaskState } from "../core/mod.ts";
import { type CompletedCheckpoint, type JobTopology, taskKey } from "../dataflow/internal_mod.ts";
import {
  type ResourceRequirements,
  SUBTASK_REST_COUNTERS,
  type TaskDescriptor,
  type VertexDetails,
} from "../protocol/mod.ts";
import type { PooledSlot, SlotPool } from "./slot_pool.ts";

/** One subtask of an attempt. */
export interface AttemptTask {
  readonly vertexId: string;
  readonly subtask: number;
  readonly slot: PooledSlot;
  state: TaskState;
  metrics?: Record<string, number>;
  /** Epoch ms it was deployed. */
  readonly startedAt: number;
  /** Epoch ms it reached an end state; -1 until then. */
  endedAt: number;
}

/** What every task descriptor of the job carries, whatever the attempt. */
export interface DeploymentBase {
  jobId: JobId;
  jmSubject: string;
  artifact: string;
  args: Record<string, string>;
  /** The job's own secrets, for its code's `env.secret` on the TaskManagers. */
  secrets?: Record<string, string>;
  /** The job's parallelism override (TaskManagers rebuild the graph with it). */
  parallelism?: number;
  /** The adaptive scheduler's per-vertex parallelism, applied by vertex id. */
  vertexParallelism?: Record<string, number>;
}

export class Attempt {
  readonly number: number;
  readonly graph: JobTopology;
  readonly #tasks = new Map<string, AttemptTask>();

  readonly #now: () => number;

  /** Places every subtask of `graph` on the pool's slots; throws when a group lacks one. */
  constructor(number: number, graph: JobTopology, pool: SlotPool, now: () => number = Date.now) {
    this.number = number;
    this.graph = graph;
    this.#now = now;
    const startedAt = now();
    for (const v of graph.vertices)
      for (let i = 0; i < v.parallelism; i++)
        this.#tasks.set(taskKey(v.id, i), {
          vertexId: v.id,
          subtask: i,
          slot: pool.slotFor(v.slotSharingGroup, i),
          state: TaskState.DEPLOYING,
          startedAt,
          endedAt: -1,
        });
  }

  tasks(): AttemptTask[] {
    return [...this.#tasks.values()];
  }

  /** The descriptors that deploy this attempt, each restoring its vertex from `restore`. */
  descriptors(
    base: DeploymentBase,
    restore: CompletedCheckpoint | undefined,
  ): { slot: PooledSlot; descriptor: TaskDescriptor }[] {
    return this.tasks().map(({ vertexId, subtask, slot }) => {
      const handles = restore?.vertices[vertexId]?.handles;
      return {
        slot,
        descriptor: {
          jobId: base.jobId,
          attempt: this.number,
          vertexId,
          subtask,
          allocationId: slot.allocationId,
          jmSubject: base.jmSubject,
          jobName: this.graph.options.name,
          artifact: base.artifact,
          args: base.args,
          ...(base.secrets ? { secrets: base.secrets } : {}),
          ...(base.parallelism ? { parallelism: base.parallelism } : {}),
          ...(base.vertexParallelism ? { vertexParallelism: base.vertexParallelism } : {}),
          ...(handles ? { restore: handles } : {}),
        },
      };
    });
  }

  /** A task's report; false when it is ignored (an unknown task, or one that already ended). */
  report(vertexId: string, subtask: number, state: TaskState, metrics?: Record<string, number>) {
    const task = this.#tasks.get(taskKey(vertexId, subtask));
    if (!task || isTaskEnd(task.state)) return false;
    task.state = state;
    if (isTaskEnd(state)) task.endedAt = this.#now();
    if (metrics) task.metrics = metrics;
    return true;
  }

  /** Running tasks' counters between state reports (best effort). */
  updateMetrics(vertexId: string, subtask: number, metrics: Record<string, number>): void {
    const task = this.#tasks.get(taskKey(vertexId, subtask));
    if (task && !isTaskEnd(task.state)) task.metrics = metrics;
  }

  live(): AttemptTask[] {
    return this.tasks().filter((t) => !isTaskEnd(t.state));
  }

  allEnded(): boolean {
    return this.live().length === 0;
  }

  allFinished(): boolean {
    return this.tasks().every((t) => t.state === TaskState.FINISHED);
  }

  /** The TaskManagers (by subject) that run any of `tasks`, each once. */
  taskManagers(tasks: AttemptTask[] = this.tasks()): string[] {
    return [...new Set(tasks.map((t) => t.slot.tmSubject))];
  }

  /** The TaskManagers that run a source subtask: where checkpoints are triggered. */
  sourceTaskManagers(): string[] {
    const sources = new Set(this.graph.vertices.filter((v) => v.source).map((v) => v.id));
    return this.taskManagers(this.tasks().filter((t) => sources.has(t.vertexId)));
  }

  /** A TaskManager is gone: its live tasks failed with it (no report of theirs will come). */
  failTaskManager(tmId: TaskManagerId): AttemptTask[] {
    const hit = this.live().filter((t) => t.slot.tmId === tmId);
    const at = this.#now();
    for (const t of hit) {
      t.state = TaskState.FAILED;
      t.endedAt = at;
    }
    return hit;
  }
}

/**
 * The job details' view of each vertex of `graph` (the current attempt's, so its current
 * parallelism), from that attempt's tasks; with `bounds` (adaptive jobs) each vertex's bounds.
 */
function restCounters(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of SUBTASK_REST_COUNTERS)
    if (metrics[name] !== undefined) out[name] = metrics[name];
  return out;
}

export function vertexDetails(
  graph: JobTopology,
  attempt: { number: number; tasks: AttemptTask[] } | undefined,
  bounds?: ResourceRequirements,
): VertexDetails[] {
  const tasks = attempt?.tasks ?? [];
  return graph.vertices.map((v) => {
    const mine = tasks.filter((t) => t.vertexId === v.id);
    const counts: Partial<Record<TaskState, number>> = {};
    for (const t of mine) counts[t.state] = (counts[t.state] ?? 0) + 1;
    const sum = (name: string) => mine.reduce((n, t) => n + (t.metrics?.[name] ?? 0), 0);
    const counted = (name: string) => mine.some((t) => t.metrics?.[name] !== undefined);
    const bound = bounds?.[v.id]?.parallelism;
    const ended = mine.length > 0 && mine.every((t) => t.endedAt >= 0);
    return {
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      ...(bound ? { parallelismBounds: bound } : {}),
      tasks: counts,
      recordsIn: sum("recordsIn"),
      recordsOut: sum("recordsOut"),
      ...(counted("bytesIn") ? { bytesIn: sum("bytesIn") } : {}),
      ...(counted("bytesOut") ? { bytesOut: sum("bytesOut") } : {}),
      "start-time": mine.length > 0 ? Math.min(...mine.map((t) => t.startedAt)) : -1,
      "end-time": ended ? Math.max(...mine.map((t) => t.endedAt)) : -1,
      subtasks: mine.map((t) => ({
        subtask: t.subtask,
        state: t.state,
        taskmanager: t.slot.tmId,
        recordsIn: t.metrics?.recordsIn ?? 0,
        recordsOut: t.metrics?.recordsOut ?? 0,
        ...(t.metrics?.bytesIn !== undefined ? { bytesIn: t.metrics.bytesIn } : {}),
        ...(t.metrics?.bytesOut !== undefined ? { bytesOut: t.metrics.bytesOut } : {}),
        attempt: attempt?.number ?? 0,
        host: t.slot.tmId,
        "taskmanager-id": t.slot.tmId,
        "start-time": t.startedAt,
        "end-time": t.endedAt,
        ...(t.metrics ? { metrics: restCounters(t.metrics) } : {}),
      })),
    };
  });
}
