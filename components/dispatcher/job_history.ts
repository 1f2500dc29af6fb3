/**
 * A job's history as the Dispatcher answers it, in Flink's shapes: a running job's from its
 * JobManager, an ended job's from the archive its result record keeps (`JobResultRecord.history`),
 * so a finished job's checkpoint and exception pages still answer. `endedArchive` is what the
 * Dispatcher asks a JobManager for as its job ends.
 */
import { ErrorCode, FlotillaError, type Logger, vertexHexId } from "../core/mod.ts";
import {
  type CheckpointConfigInfo,
  type CheckpointingStatistics,
  type CheckpointStatistics,
  DEFAULT_MAX_EXCEPTIONS,
  type ExceptionsQuery,
  type JobExceptions,
  type JobHistoryArchive,
  type TaskCheckpointWithSubtasks,
} from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import type { JobManagerRun } from "./job_managers.ts";
import type { JobResultRecord } from "./types.ts";

export interface JobHistorySources {
  /** The job's JobManager here, if it runs one. */
  running(jobId: string): JobManagerRun | undefined;
  /** The kept ended job's archive (memory or its HA record); undefined: not an ended job here. */
  archive(
    jobId: string,
  ): Promise<{ result: JobResultRecord; history?: JobHistoryArchive } | undefined>;
  /** Why a job has neither (404 unknown or expired, 503 starting). */
  notRunning(jobId: string): Promise<FlotillaError>;
}

/** What the Dispatcher's Flink routes call for a job's checkpoints and exceptions. */
export function jobHistoryAnswers(sources: JobHistorySources) {
  /** Asks the running job's JobManager, or answers from the ended job's archive. */
  async function answer<T>(
    jobId: string,
    live: (run: JobManagerRun) => Promise<T>,
    ended: (history: JobHistoryArchive | undefined, result: JobResultRecord) => T,
  ): Promise<T> {
    const run = sources.running(jobId);
    if (run) {
      try {
        return await live(run);
      } catch (err) {
        // Its JobManager retired as the job ended: the archive answers.
        if (sources.running(jobId)) throw err;
      }
    }
    const kept = await sources.archive(jobId);
    if (!kept) throw await sources.notRunning(jobId);
    return ended(kept.history, kept.result);
  }

  return {
    /** `GET /jobs/:jid/checkpoints`. */
    checkpoints: (jobId: string): Promise<CheckpointingStatistics> =>
      answer(
        jobId,
        (run) => unwrap(run.control.checkpoints.$get()),
        (history) => history?.checkpoints ?? emptyStatistics(),
      ),

    /** `GET /jobs/:jid/checkpoints/config`: 404 for a job without checkpointing. */
    checkpointConfig: (jobId: string): Promise<CheckpointConfigInfo> =>
      answer(
        jobId,
        (run) => unwrap(run.control.checkpoints.config.$get()),
        (history) => {
          if (!history?.config)
            throw new FlotillaError(
              ErrorCode.NOT_FOUND,
              `checkpointing is not enabled for job ${jobId}${history ? "" : " (or its result keeps no history)"}`,
            );
          return history.config;
        },
      ),

    /** `GET /jobs/:jid/checkpoints/details/:cid`: 404 for one not in the kept history. */
    checkpointDetails: (jobId: string, checkpointId: number): Promise<CheckpointStatistics> =>
      answer(
        jobId,
        (run) =>
          unwrap(
            run.control.checkpoints.details[":checkpointId"].$get({
              param: { checkpointId: String(checkpointId) },
            }),
          ),
        (history) => {
          const found =
            history?.details.find((d) => d.id === checkpointId) ??
            // Its per-vertex part was trimmed from the archive: the history entry still answers.
            history?.checkpoints.history.find((d) => d.id === checkpointId);
          if (!found) throw notKept(jobId, history, `checkpoint ${checkpointId}`);
          return found;
        },
      ),

    /** `GET /jobs/:jid/checkpoints/details/:cid/subtasks/:vid` (hex or flotilla vertex id). */
    checkpointSubtasks: (
      jobId: string,
      checkpointId: number,
      vertexId: string,
    ): Promise<TaskCheckpointWithSubtasks> =>
      answer(
        jobId,
        (run) =>
          unwrap(
            run.control.checkpoints.details[":checkpointId"].subtasks[":vertexId"].$get({
              param: { checkpointId: String(checkpointId), vertexId },
            }),
          ),
        (history) => {
          const vertices = history?.subtasks[String(checkpointId)];
          const found = vertices?.[vertexId] ?? vertices?.[vertexHexId(vertexId)];
          if (!found)
            throw notKept(jobId, history, `vertex ${vertexId} of checkpoint ${checkpointId}`);
          return found;
        },
      ),

    /** `GET /jobs/:jid/exceptions?maxExceptions=` (default 20). */
    exceptions: (jobId: string, query: ExceptionsQuery = {}): Promise<JobExceptions> =>
      answer(
        jobId,
        (run) =>
          unwrap(
            run.control.exceptions.$get({
              query: query.maxExceptions ? { maxExceptions: String(query.maxExceptions) } : {},
            }),
          ),
        (history, result) =>
          history
            ? limitExceptions(history.exceptions, query.maxExceptions)
            : fromResultError(result),
      ),
  };
}

export type JobHistoryAnswers = ReturnType<typeof jobHistoryAnswers>;

/**
 * The history a job's result record keeps, asked of its JobManager as the job ends (before it
 * retires); undefined when it cannot answer (the job ends without one, its pages answer less).
 */
export async function endedArchive(
  run: JobManagerRun,
  log: Logger,
): Promise<JobHistoryArchive | undefined> {
  try {
    return await unwrap(run.control.archive.$get());
  } catch (err) {
    log.warn({ job: run.record.jobId, err: (err as Error).message }, "the job's history is lost");
    return undefined;
  }
}

/**
 * How `archive` finds an ended job's history: the jobstore keeps the newest jobs' archives in
 * memory, an older one is read from its HA result record.
 */
export function keptArchives(
  ended: { archive(jobId: string): JobHistoryArchive | undefined },
  endedJob: (jobId: string) => Promise<JobResultRecord | undefined>,
  results: { get(jobId: string): Promise<JobResultRecord | undefined> },
): JobHistorySources["archive"] {
  return async (jobId) => {
    const result = await endedJob(jobId);
    if (!result) return undefined;
    const history =
      ended.archive(jobId) ?? (await results.get(jobId).catch(() => undefined))?.history;
    return { result, ...(history ? { history } : {}) };
  };
}

function notKept(
  jobId: string,
  history: JobHistoryArchive | undefined,
  what: string,
): FlotillaError {
  const why = !history
    ? "its result keeps no history"
    : history.trimmed.length > 0
      ? `its archive keeps the last checkpoints, without: ${history.trimmed.join("; ")}`
      : "its archive keeps the last web.checkpoints.history checkpoints";
  return new FlotillaError(
    ErrorCode.NOT_FOUND,
    `${what} of ended job ${jobId} is not kept: ${why}`,
  );
}

function limitExceptions(all: JobExceptions, max = DEFAULT_MAX_EXCEPTIONS): JobExceptions {
  const { entries } = all.exceptionHistory;
  return {
    ...all,
    "all-exceptions": all["all-exceptions"].slice(0, max),
    truncated: all.truncated || all["all-exceptions"].length > max,
    exceptionHistory: {
      entries: entries.slice(0, max),
      truncated: all.exceptionHistory.truncated || entries.length > max,
    },
  };
}

/** A result written before histories were archived: its error is the one root cause known. */
function fromResultError(result: JobResultRecord): JobExceptions {
  const error = result.error;
  const text = error ? `${error.code}: ${error.message}` : null;
  return {
    "root-exception": text,
    timestamp: error ? result.finishedAt : null,
    "all-exceptions": [],
    truncated: false,
    exceptionHistory: {
      entries:
        error && text
          ? [
              {
                exceptionName: error.code,
                stacktrace: text,
                timestamp: result.finishedAt,
                taskName: null,
                location: null,
                endpoint: null,
                taskManagerId: null,
                failureLabels: {},
                concurrentExceptions: [],
              },
            ]
          : [],
      truncated: false,
    },
  };
}

function emptyStatistics(): CheckpointingStatistics {
  const zero = { min: 0, max: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 };
  return {
    counts: { restored: 0, total: 0, in_progress: 0, completed: 0, failed: 0 },
    summary: {
      checkpointed_size: zero,
      state_size: zero,
      end_to_end_duration: zero,
      alignment_buffered: zero,
      processed_data: zero,
      persisted_data: zero,
    },
    latest: { completed: null, savepoint: null, failed: null, restored: null },
    history: [],
  };
}
