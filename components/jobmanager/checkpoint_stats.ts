/**
 * The JobManager's checkpoint statistics (Flink's CheckpointStatsTracker): each checkpoint's
 * trigger, its subtasks' acknowledgements (time, size), its completion or failure (with the
 * cause), savepoint flag and path, and each restore. Counts and summaries cover every checkpoint;
 * the last `history` ones are kept whole, per-subtask details only for those. Answers Flink's
 * checkpoint views. It keeps no timers: every time comes in with its event.
 */
import { vertexHexId } from "../core/mod.ts";
import type { CheckpointStatsListener } from "../dataflow/internal_mod.ts";
import type {
  CheckpointingStatistics,
  CheckpointStatistics,
  CheckpointStatus,
  CompletedCheckpointStatistics,
  FailedCheckpointStatistics,
  RestoredCheckpointStatistics,
  SubtaskCheckpointStatistics,
  TaskCheckpointStatistics,
  TaskCheckpointWithSubtasks,
} from "../protocol/mod.ts";
import { StatsWindow, summarize, ZERO_SUMMARY } from "./stats_summary.ts";

/** Flink's `web.checkpoints.history` default. */
export const DEFAULT_CHECKPOINTS_HISTORY = 10;

interface SubtaskAck {
  at: number;
  bytes: number;
}

interface VertexRecord {
  id: string;
  parallelism: number;
  acked: number;
  latestAck: number;
  bytes: number;
  /** By subtask index; dropped once the checkpoint leaves the history. */
  subtasks: (SubtaskAck | undefined)[] | undefined;
}

interface CheckpointRecord {
  id: number;
  savepoint: boolean;
  triggeredAt: number;
  status: CheckpointStatus;
  latestAck: number;
  bytes: number;
  acked: number;
  vertices: VertexRecord[];
  endedAt: number;
  failure: string | null;
  path: string | null;
  discarded: boolean;
}

export class CheckpointStats implements CheckpointStatsListener {
  readonly #history: number;
  /** The kept checkpoints, oldest first. */
  readonly #kept = new Map<number, CheckpointRecord>();
  #completed: CheckpointRecord | undefined;
  #savepoint: CheckpointRecord | undefined;
  #failed: CheckpointRecord | undefined;
  #restored: RestoredCheckpointStatistics | undefined;
  readonly #counts = { restored: 0, total: 0, completed: 0, failed: 0 };
  readonly #sizes = new StatsWindow();
  readonly #durations = new StatsWindow();

  constructor({ history = DEFAULT_CHECKPOINTS_HISTORY }: { history?: number } = {}) {
    this.#history = Math.max(1, history);
  }

  triggered(
    id: number,
    at: number,
    {
      savepoint,
      vertices,
    }: { savepoint: boolean; vertices: { id: string; parallelism: number }[] },
  ): void {
    this.#counts.total++;
    this.#kept.set(id, {
      id,
      savepoint,
      triggeredAt: at,
      status: "IN_PROGRESS",
      latestAck: -1,
      bytes: 0,
      acked: 0,
      vertices: vertices.map((v) => ({
        id: v.id,
        parallelism: v.parallelism,
        acked: 0,
        latestAck: -1,
        bytes: 0,
        subtasks: [],
      })),
      endedAt: -1,
      failure: null,
      path: null,
      discarded: false,
    });
    for (const [old, record] of this.#kept) {
      if (this.#kept.size <= this.#history) break;
      this.#kept.delete(old);
      for (const v of record.vertices) v.subtasks = undefined;
    }
  }

  acknowledged(id: number, vertexId: string, subtask: number, at: number, bytes: number): void {
    const record = this.#kept.get(id);
    const vertex = record?.vertices.find((v) => v.id === vertexId);
    if (record?.status !== "IN_PROGRESS" || !vertex?.subtasks) return;
    if (vertex.subtasks[subtask] || subtask >= vertex.parallelism) return;
    vertex.subtasks[subtask] = { at, bytes };
    vertex.acked++;
    vertex.latestAck = Math.max(vertex.latestAck, at);
    vertex.bytes += bytes;
    record.acked++;
    record.latestAck = Math.max(record.latestAck, at);
    record.bytes += bytes;
  }

  completed(id: number, at: number, path: string): void {
    const record = this.#kept.get(id);
    if (record?.status !== "IN_PROGRESS") return;
    record.status = "COMPLETED";
    record.endedAt = at;
    record.path = path;
    this.#counts.completed++;
    this.#sizes.add(record.bytes);
    this.#durations.add(duration(record));
    if (record.savepoint) this.#savepoint = record;
    else this.#completed = record;
  }

  failed(id: number, at: number, reason: string): void {
    const record = this.#kept.get(id);
    if (record?.status !== "IN_PROGRESS") return;
    record.status = "FAILED";
    record.endedAt = at;
    record.failure = reason;
    this.#counts.failed++;
    this.#failed = record;
  }

  discarded(id: number): void {
    const record = this.#kept.get(id) ?? (this.#completed?.id === id ? this.#completed : undefined);
    if (record) record.discarded = true;
  }

  /** The job restored a checkpoint (a restart, a recovery, a savepoint it was started from). */
  restored(
    id: number,
    at: number,
    { savepoint, path }: { savepoint: boolean; path: string },
  ): void {
    this.#counts.restored++;
    this.#restored = { id, restore_timestamp: at, is_savepoint: savepoint, external_path: path };
  }

  /** Flink's `CheckpointingStatistics`: the history newest first, without per-vertex tasks. */
  statistics(): CheckpointingStatistics {
    const kept = [...this.#kept.values()];
    const zero = ZERO_SUMMARY;
    return {
      counts: {
        ...this.#counts,
        in_progress: kept.filter((r) => r.status === "IN_PROGRESS").length,
      },
      summary: {
        checkpointed_size: this.#sizes.summary(),
        state_size: this.#sizes.summary(),
        end_to_end_duration: this.#durations.summary(),
        alignment_buffered: zero,
        processed_data: zero,
        persisted_data: zero,
      },
      latest: {
        completed: this.#completed ? completedView(this.#completed, false) : null,
        savepoint: this.#savepoint ? completedView(this.#savepoint, false) : null,
        failed: this.#failed ? failedView(this.#failed, false) : null,
        restored: this.#restored ?? null,
      },
      history: kept.reverse().map((r) => view(r, false)),
    };
  }

  /** One kept checkpoint with its per-vertex `tasks`; undefined when not kept. */
  details(id: number): CheckpointStatistics | undefined {
    const record = this.#kept.get(id);
    return record && view(record, true);
  }

  /** The ids of the kept checkpoints, newest first. */
  keptIds(): number[] {
    return [...this.#kept.keys()].reverse();
  }

  /** One vertex (flotilla or hex id) of a kept checkpoint, subtask by subtask. */
  subtasks(id: number, vertexId: string): TaskCheckpointWithSubtasks | undefined {
    const record = this.#kept.get(id);
    const vertex = record?.vertices.find(
      (v) => v.id === vertexId || vertexHexId(v.id) === vertexId,
    );
    if (!record || !vertex) return undefined;
    return subtaskDetails(record, vertex);
  }

  /** Every vertex's subtask details of a kept checkpoint, by hex id (for the archive). */
  allSubtasks(id: number): Record<string, TaskCheckpointWithSubtasks> {
    const record = this.#kept.get(id);
    if (!record) return {};
    return Object.fromEntries(
      record.vertices.map((v) => [vertexHexId(v.id), subtaskDetails(record, v)]),
    );
  }

  /** Subtasks a checkpoint's details would list (what they cost in an archive). */
  subtaskCount(id: number): number {
    return this.#kept.get(id)?.vertices.reduce((n, v) => n + v.parallelism, 0) ?? 0;
  }
}

function duration(record: CheckpointRecord): number {
  const end = record.endedAt >= 0 ? record.endedAt : record.latestAck;
  return end >= 0 ? Math.max(0, end - record.triggeredAt) : 0;
}

function numSubtasks(record: CheckpointRecord): number {
  return record.vertices.reduce((n, v) => n + v.parallelism, 0);
}

function taskView(record: CheckpointRecord, v: VertexRecord): TaskCheckpointStatistics {
  return {
    id: record.id,
    status: record.status,
    latest_ack_timestamp: v.latestAck,
    checkpointed_size: v.bytes,
    state_size: v.bytes,
    end_to_end_duration: v.latestAck >= 0 ? Math.max(0, v.latestAck - record.triggeredAt) : 0,
    alignment_buffered: 0,
    processed_data: 0,
    persisted_data: 0,
    num_subtasks: v.parallelism,
    num_acknowledged_subtasks: v.acked,
  };
}

function base(record: CheckpointRecord, withTasks: boolean) {
  return {
    id: record.id,
    status: record.status,
    is_savepoint: record.savepoint,
    trigger_timestamp: record.triggeredAt,
    latest_ack_timestamp: record.latestAck,
    checkpointed_size: record.bytes,
    state_size: record.bytes,
    end_to_end_duration: duration(record),
    alignment_buffered: 0,
    processed_data: 0,
    persisted_data: 0,
    num_subtasks: numSubtasks(record),
    num_acknowledged_subtasks: record.acked,
    checkpoint_type: record.savepoint ? ("SAVEPOINT" as const) : ("CHECKPOINT" as const),
    tasks: withTasks
      ? Object.fromEntries(record.vertices.map((v) => [vertexHexId(v.id), taskView(record, v)]))
      : {},
  };
}

function completedView(
  record: CheckpointRecord,
  withTasks: boolean,
): CompletedCheckpointStatistics {
  return {
    className: "completed",
    ...base(record, withTasks),
    external_path: record.path,
    discarded: record.discarded,
  };
}

function failedView(record: CheckpointRecord, withTasks: boolean): FailedCheckpointStatistics {
  return {
    className: "failed",
    ...base(record, withTasks),
    failure_timestamp: record.endedAt,
    failure_message: record.failure,
  };
}

function view(record: CheckpointRecord, withTasks: boolean): CheckpointStatistics {
  if (record.status === "COMPLETED") return completedView(record, withTasks);
  if (record.status === "FAILED") return failedView(record, withTasks);
  return { className: "in_progress", ...base(record, withTasks) };
}

function subtaskDetails(record: CheckpointRecord, v: VertexRecord): TaskCheckpointWithSubtasks {
  const acks = (v.subtasks ?? []).filter((a): a is SubtaskAck => a !== undefined);
  const sizes = summarize(acks.map((a) => a.bytes));
  const zero = ZERO_SUMMARY;
  const subtasks: SubtaskCheckpointStatistics[] = Array.from({ length: v.parallelism }, (_, i) => {
    const ack = v.subtasks?.[i];
    if (!ack) return { className: "pending", index: i, status: "pending_or_failed" };
    return {
      className: "completed",
      index: i,
      status: "completed",
      ack_timestamp: ack.at,
      end_to_end_duration: Math.max(0, ack.at - record.triggeredAt),
      checkpointed_size: ack.bytes,
      state_size: ack.bytes,
      // Not measured by flotilla's runtime: Flink's neutral values.
      checkpoint: { sync: 0, async: 0 },
      alignment: { buffered: 0, processed: 0, persisted: 0, duration: 0 },
      start_delay: 0,
      unaligned_checkpoint: false,
      aborted: false,
    };
  });
  return {
    ...taskView(record, v),
    summary: {
      checkpointed_size: sizes,
      state_size: sizes,
      end_to_end_duration: summarize(acks.map((a) => Math.max(0, a.at - record.triggeredAt))),
      checkpoint_duration: { sync: zero, async: zero },
      alignment: { buffered: zero, processed: zero, persisted: zero, duration: zero },
      start_delay: zero,
    },
    subtasks,
  };
}
