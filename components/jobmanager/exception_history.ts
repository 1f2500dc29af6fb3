/**
 * The job's exception history (Flink's `JobExceptionsInfoWithHistory`): one entry per failure
 * that restarted or failed the job, its root cause with the task, TaskManager and time, and the
 * failures of the same attempt that came with it (`concurrentExceptions`). Bounded: the newest
 * `web.exception-history-size` entries, as many concurrent failures each, messages cut at
 * `MAX_STACKTRACE_CHARS`.
 */
import { ErrorCode } from "../core/mod.ts";
import type { ExceptionInfo, ExecutionExceptionInfo, JobExceptions } from "../protocol/mod.ts";
import { DEFAULT_MAX_EXCEPTIONS } from "../protocol/mod.ts";

/** Flink's `web.exception-history-size` default. */
export const DEFAULT_EXCEPTION_HISTORY_SIZE = 16;
/** Longest message kept per failure (a task's error may be 64 KiB on the wire). */
export const MAX_STACKTRACE_CHARS = 8192;
/**
 * Most message characters one view carries: an answer crosses NATS (max_payload 1 MiB) between
 * the JobManager and the Dispatcher; past it every message of the view is cut to its share.
 */
export const VIEW_MAX_CHARS = 200_000;

/** Where a failure happened; absent for one of the whole job (no slots, checkpoints expiring). */
export interface FailureSite {
  /** Flink's task name: `<vertex name> (<subtask + 1>/<parallelism>)`. */
  taskName: string;
  taskManagerId: string;
}

interface Failure {
  code: string;
  message: string;
  at: number;
  site: FailureSite | undefined;
}

interface Entry {
  attempt: number;
  root: Failure;
  concurrent: Failure[];
}

export class ExceptionHistory {
  readonly #size: number;
  /** Oldest first. */
  readonly #entries: Entry[] = [];
  /** The failures recorded already (one error reaches here by the task and by the lifecycle). */
  readonly #seen = new WeakSet<object>();

  constructor({ size = DEFAULT_EXCEPTION_HISTORY_SIZE }: { size?: number } = {}) {
    this.#size = Math.max(1, size);
  }

  /**
   * A failure of `attempt`: the attempt's first is its entry's root cause, later ones are
   * concurrent. A task canceled unasked gives way as root to a real failure of the same attempt
   * that comes next (its upstream's, as the lifecycle decides too).
   */
  failed(
    attempt: number,
    error: { code: string; message: string },
    at: number,
    site?: FailureSite,
  ): void {
    if (this.#seen.has(error)) return;
    this.#seen.add(error);
    const failure: Failure = {
      code: error.code,
      message: error.message.slice(0, MAX_STACKTRACE_CHARS),
      at,
      site,
    };
    const last = this.#entries.at(-1);
    if (last?.attempt !== attempt) {
      this.#entries.push({ attempt, root: failure, concurrent: [] });
      if (this.#entries.length > this.#size) this.#entries.shift();
      return;
    }
    if (last.root.code === ErrorCode.CANCELED && failure.code !== ErrorCode.CANCELED) {
      last.concurrent.unshift(last.root);
      last.root = failure;
    } else last.concurrent.push(failure);
    if (last.concurrent.length > this.#size) last.concurrent.length = this.#size;
  }

  /** Whether a failure of `attempt` is recorded (it is the newest entry's). */
  has(attempt: number): boolean {
    return this.#entries.at(-1)?.attempt === attempt;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Flink's view: the newest `maxExceptions` entries, newest first. */
  view(maxExceptions = DEFAULT_MAX_EXCEPTIONS): JobExceptions {
    const newest = [...this.#entries].reverse();
    const latest = newest[0];
    const all = latest ? [latest.root, ...latest.concurrent] : [];
    const shown = newest.slice(0, maxExceptions);
    const messages = [...all, ...shown.flatMap((e) => [e.root, ...e.concurrent])];
    const chars = messages.reduce((n, f) => n + f.message.length, 0);
    const cut = chars > VIEW_MAX_CHARS ? Math.floor(VIEW_MAX_CHARS / messages.length) : undefined;
    const info = (f: Failure) => exceptionInfo(f, cut);
    return {
      "root-exception": latest ? stacktrace(latest.root, cut) : null,
      timestamp: latest ? latest.root.at : null,
      "all-exceptions": all.slice(0, maxExceptions).map((f) => executionInfo(f, cut)),
      truncated: all.length > maxExceptions,
      exceptionHistory: {
        entries: shown.map((e) => ({
          ...info(e.root),
          concurrentExceptions: e.concurrent.map(info),
        })),
        truncated: newest.length > maxExceptions,
      },
    };
  }
}

/** flotilla errors carry a code and a message, no Java class or stack: the code names them. */
function stacktrace(f: Failure, cut?: number): string {
  return `${f.code}: ${cut === undefined ? f.message : f.message.slice(0, cut)}`;
}

function exceptionInfo(f: Failure, cut: number | undefined): ExceptionInfo {
  const tm = f.site?.taskManagerId ?? null;
  return {
    exceptionName: f.code,
    stacktrace: stacktrace(f, cut),
    timestamp: f.at,
    taskName: f.site?.taskName ?? null,
    location: tm,
    endpoint: tm,
    taskManagerId: tm,
    failureLabels: {},
  };
}

function executionInfo(f: Failure, cut: number | undefined): ExecutionExceptionInfo {
  const tm = f.site?.taskManagerId ?? null;
  return {
    exception: stacktrace(f, cut),
    task: f.site?.taskName ?? null,
    location: tm,
    endpoint: tm,
    taskManagerId: tm,
    timestamp: f.at,
  };
}
