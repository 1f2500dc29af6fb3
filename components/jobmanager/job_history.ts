/**
 * What one JobManager keeps of its job's history: checkpoint statistics, the exception history,
 * the checkpoint config it reports, and the bounded archive the job's result record keeps once
 * it ended (`archive()`), trimmed to `JOB_HISTORY_ARCHIVE_MAX_BYTES` per-subtask details first.
 */
import { ErrorCode, FlotillaError, JobState, snapshotPrefix } from "../core/mod.ts";
import type {
  CompiledJobOptions,
  CompletedCheckpoint,
  JobLifecycleAction,
} from "../dataflow/internal_mod.ts";
import {
  type CheckpointConfigInfo,
  JOB_HISTORY_ARCHIVE_MAX_BYTES,
  type JobExceptions,
  type JobHistoryArchive,
  type VertexDetails,
} from "../protocol/mod.ts";
import { CheckpointStats, DEFAULT_CHECKPOINTS_HISTORY } from "./checkpoint_stats.ts";
import {
  DEFAULT_EXCEPTION_HISTORY_SIZE,
  ExceptionHistory,
  type FailureSite,
} from "./exception_history.ts";

/** How much history a JobManager keeps (`web.checkpoints.history`, `web.exception-history-size`). */
export interface JobHistoryBounds {
  /** Checkpoints kept whole (with per-subtask details). @default 10 */
  checkpoints?: number;
  /** Failures kept in the exception history. @default 16 */
  exceptions?: number;
}

/** Longest message an archive keeps of a failure when the whole history does not fit. */
const ARCHIVED_STACKTRACE_CHARS = 1024;
/** What one subtask's entry costs at least in an archive, to skip building what cannot fit. */
const SUBTASK_DETAIL_BYTES = 300;
const SUBTASK_VERTEX_BYTES = 200;

export class JobHistory {
  readonly checkpoints: CheckpointStats;
  readonly exceptions: ExceptionHistory;
  readonly #config: CheckpointConfigInfo | null;
  /** Epoch ms the job last entered each state. */
  readonly #entered = new Map<JobState, number>([[JobState.CREATED, Date.now()]]);

  constructor(options: Pick<CompiledJobOptions, "checkpointing">, bounds: JobHistoryBounds = {}) {
    this.checkpoints = new CheckpointStats({
      history: bounds.checkpoints ?? DEFAULT_CHECKPOINTS_HISTORY,
    });
    this.exceptions = new ExceptionHistory({
      size: bounds.exceptions ?? DEFAULT_EXCEPTION_HISTORY_SIZE,
    });
    this.#config = checkpointConfig(options.checkpointing);
  }

  /** A failure of `attempt`, where it happened when a task did. */
  failed(attempt: number, error: FlotillaError, site?: FailureSite): void {
    this.exceptions.failed(attempt, error, Date.now(), site);
  }

  /**
   * A lifecycle action as it is carried out: the state's time, and the failure that made the
   * job fail or restart when no task's report named it already (checkpoints expiring, no slots,
   * a task canceled unasked). `lifecycle` is read as the action is carried out.
   */
  observe(
    action: JobLifecycleAction,
    lifecycle: { attempt: number; attemptFailure: FlotillaError | undefined },
  ): void {
    const { attempt } = lifecycle;
    if (action.kind === "state") {
      this.#entered.set(action.to, Date.now());
      if (action.to !== JobState.FAILING || this.exceptions.has(attempt)) return;
      const why = new FlotillaError(ErrorCode.INTERNAL, action.why ?? "the job attempt failed");
      this.failed(attempt, lifecycle.attemptFailure ?? why);
    } else if (action.kind === "end" && action.outcome.error && !this.exceptions.has(attempt))
      this.failed(attempt, action.outcome.error);
  }

  /** An attempt was deployed restoring `checkpoint`. */
  restored(checkpoint: CompletedCheckpoint): void {
    const { jobId, checkpointId, savepoint } = checkpoint;
    const path = snapshotPrefix(jobId, checkpointId, savepoint);
    this.checkpoints.restored(checkpointId, Date.now(), { savepoint, path });
  }

  /** When the job last entered each state, every state named (0: never), as Flink's `timestamps`. */
  timestamps(): Record<JobState, number> {
    const all = Object.values(JobState).map((s) => [s, this.#entered.get(s) ?? 0] as const);
    return Object.fromEntries(all) as Record<JobState, number>;
  }

  /** 404 NOT_FOUND for a job without checkpointing, as Flink. */
  checkpointConfig(): CheckpointConfigInfo {
    if (!this.#config)
      throw new FlotillaError(ErrorCode.NOT_FOUND, "checkpointing is not enabled for this job");
    return this.#config;
  }

  /**
   * The archive of the job as it ended, at most `maxBytes` of JSON. The essentials always fit
   * (counts, summary, latest checkpoints, the newest history entries without per-vertex parts,
   * root causes cut to 1 KiB, vertices without subtasks); then, as far as they fit, in this order:
   * whole exception entries, each checkpoint's per-vertex details (newest first), the vertices'
   * subtasks, and each checkpoint's per-subtask details (newest first). What was left out is
   * named in `trimmed`.
   */
  archive(vertices: VertexDetails[], maxBytes = JOB_HISTORY_ARCHIVE_MAX_BYTES): JobHistoryArchive {
    const end = { timestamps: this.timestamps(), vertices };
    const stats = this.checkpoints;
    const fullExceptions = this.exceptions.view(this.exceptions.size);
    const archive: JobHistoryArchive = {
      checkpoints: stats.statistics(),
      details: [],
      subtasks: {},
      config: this.#config,
      exceptions: slimExceptions(fullExceptions),
      timestamps: end.timestamps,
      vertices: end.vertices.map((v) => ({ ...v, subtasks: [] })),
      trimmed: [],
    };
    const trim = (what: string) => archive.trimmed.push(what);
    // The essentials, cut further only for an extreme job (thousands of vertices).
    if (jsonBytes(archive) > maxBytes) {
      archive.checkpoints.history = archive.checkpoints.history.slice(0, 1);
      trim("checkpoint history but the newest entry");
    }
    if (jsonBytes(archive) > maxBytes) {
      archive.vertices = [];
      trim("vertices");
    }
    if (jsonBytes(archive) > maxBytes) {
      archive.exceptions.exceptionHistory.entries = [];
      trim("exception history");
    }
    let used = jsonBytes(archive);
    const fits = (bytes: number) => used + bytes <= maxBytes;

    const extra = jsonBytes(fullExceptions) - jsonBytes(archive.exceptions);
    if (archive.trimmed.length === 0 && fits(extra)) {
      archive.exceptions = fullExceptions;
      used += extra;
    } else if (extra > 0) trim("concurrent exceptions, and messages past 1 KiB");

    const ids = stats.keptIds();
    for (const [i, id] of ids.entries()) {
      const details = stats.details(id)!;
      const bytes = jsonBytes(details);
      if (!fits(bytes)) {
        trim(`per-vertex details of checkpoints ${ids.slice(i).join(", ")}`);
        break;
      }
      archive.details.push(details);
      used += bytes;
    }

    const subtaskCount = end.vertices.reduce((n, v) => n + v.subtasks.length, 0);
    if (subtaskCount > 0 && archive.vertices.length > 0) {
      const bytes = fits(subtaskCount * SUBTASK_VERTEX_BYTES)
        ? jsonBytes(end.vertices) - jsonBytes(archive.vertices)
        : Number.POSITIVE_INFINITY;
      if (fits(bytes)) {
        archive.vertices = end.vertices;
        used += bytes;
      } else trim(`the vertices' ${subtaskCount} subtasks`);
    }

    for (const [i, id] of ids.entries()) {
      const estimate = stats.subtaskCount(id) * SUBTASK_DETAIL_BYTES;
      const subtasks = fits(estimate) ? stats.allSubtasks(id) : undefined;
      const bytes = subtasks ? jsonBytes(subtasks) : Number.POSITIVE_INFINITY;
      if (!subtasks || !fits(bytes)) {
        trim(`per-subtask details of checkpoints ${ids.slice(i).join(", ")}`);
        break;
      }
      archive.subtasks[String(id)] = subtasks;
      used += bytes;
    }
    return archive;
  }
}

/** Where a subtask failed, as the exception history names it. */
export function failureSite(
  graph: { vertices: readonly { id: string; name: string; parallelism: number }[] },
  task: { vertexId: string; subtask: number; slot: { tmId: string } },
): FailureSite {
  const vertex = graph.vertices.find((v) => v.id === task.vertexId);
  const of = vertex ? `${task.subtask + 1}/${vertex.parallelism}` : `${task.subtask + 1}`;
  return { taskName: `${vertex?.name ?? task.vertexId} (${of})`, taskManagerId: task.slot.tmId };
}

/** Flink's `CheckpointConfigInfo` for the job's checkpointing; null without it. */
export function checkpointConfig(
  checkpointing: CompiledJobOptions["checkpointing"],
): CheckpointConfigInfo | null {
  if (!checkpointing) return null;
  return {
    // Aligned barriers: exactly once, one checkpoint at a time, no pause between them.
    mode: "EXACTLY_ONCE",
    interval: checkpointing.intervalMs,
    timeout: checkpointing.timeoutMs,
    min_pause: 0,
    max_concurrent: 1,
    // Checkpoints go with the job's end; savepoints are what outlives it.
    externalization: { enabled: false, delete_on_cancellation: true },
    state_backend: "flotilla (key groups in memory)",
    checkpoint_storage: "flotilla snapshot store (cluster blob store)",
    unaligned_checkpoints: false,
    tolerable_failed_checkpoints: checkpointing.tolerableFailures,
    aligned_checkpoint_timeout: 0,
    // A final checkpoint after the input ended (FLIP-147).
    checkpoints_after_tasks_finish: true,
    state_changelog_enabled: false,
    changelog_periodic_materialization_interval: 0,
    changelog_storage: "none",
  };
}

/** The exceptions with root causes only, their messages cut to 1 KiB. */
function slimExceptions(full: JobExceptions): JobExceptions {
  const cut = (s: string) => s.slice(0, ARCHIVED_STACKTRACE_CHARS);
  return {
    ...full,
    "root-exception": full["root-exception"] === null ? null : cut(full["root-exception"]),
    "all-exceptions": full["all-exceptions"]
      .slice(0, 1)
      .map((e) => ({ ...e, exception: cut(e.exception) })),
    exceptionHistory: {
      ...full.exceptionHistory,
      entries: full.exceptionHistory.entries.map((e) => ({
        ...e,
        stacktrace: cut(e.stacktrace),
        concurrentExceptions: [],
      })),
    },
  };
}

const encoder = new TextEncoder();

export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).byteLength;
}
