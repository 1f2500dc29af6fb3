/**
 * What subtasks tell their JobManager: reports (task states, checkpoint acknowledgements and
 * declines, sources that ended) go one after another in order, each retried while a retry can
 * help until its deadline, and are dropped once the JobManager is done with the subtask; running
 * tasks' counters go once per heartbeat, best effort.
 */
import type { ClientResponse } from "hono/client";
import { type Logger, toFlotillaError } from "../core/mod.ts";
import type { JobManagerTaskApp, TaskMetricsReport } from "../protocol/mod.ts";
import { type RpcClient, unwrap } from "../rpc/mod.ts";
import type { Closable } from "./task_table.ts";

export type JobManagerTaskClient = RpcClient<JobManagerTaskApp>;
/** One report: a typed call to the JobManager. */
export type Report = (jm: JobManagerTaskClient) => Promise<ClientResponse<unknown>>;

/** Longest pause between two tries of a report: short, so a JobManager back after a NATS restart hears at once. */
const MAX_RETRY_PAUSE_MS = 500;

export interface ReportQueueOptions {
  /** The JobManager's client, its calls ending within `timeoutMs`. */
  jobManager(timeoutMs: number): JobManagerTaskClient;
  /** Where the JobManager answers, for the log. */
  jmSubject: string;
  /**
   * How long one report is tried before it is dropped: the heartbeat timeout, after which the
   * JobManager counts as lost anyway. A lost acknowledgement costs a whole checkpoint, so a
   * report rides out a NATS restart that the JobManager itself survives.
   */
  deadlineMs: number;
  log: Logger;
}

/** The reports of one subtask, in order. */
export class ReportQueue implements Closable {
  readonly #o: ReportQueueOptions;
  #tail: Promise<void> = Promise.resolve();
  #closed: string | undefined;
  readonly #wakers = new Set<() => void>();

  constructor(options: ReportQueueOptions) {
    this.#o = options;
  }

  /** Queues a report behind the ones before it. */
  send(what: string, report: Report): void {
    this.#tail = this.#tail.then(() => this.#deliver(what, report));
  }

  /**
   * The JobManager is done with the subtask (it freed the slot, or it is lost): reports not yet
   * sent are dropped, and one being retried stops at its next try.
   */
  close(reason: string): void {
    this.#closed ??= reason;
    for (const wake of this.#wakers) wake();
  }

  get closed(): string | undefined {
    return this.#closed;
  }

  /** Resolves once every report queued so far was delivered or dropped. */
  settled(): Promise<void> {
    return this.#tail;
  }

  async #deliver(what: string, report: Report): Promise<void> {
    const { deadlineMs, jmSubject, log } = this.#o;
    const deadline = performance.now() + deadlineMs;
    let last = "";
    for (let tries = 0; ; tries++) {
      if (this.#closed !== undefined) {
        log.debug(
          { what, jm: jmSubject, reason: this.#closed },
          "report dropped: the JobManager is done with the task",
        );
        return;
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        log.warn(
          { what, jm: jmSubject, tries, err: last },
          `the JobManager did not take the report within ${deadlineMs} ms: dropped`,
        );
        return;
      }
      try {
        await unwrap(report(this.#o.jobManager(remaining)));
        return;
      } catch (err) {
        const error = toFlotillaError(err);
        if (!error.retryable) {
          log.warn({ what, jm: jmSubject, err: error.message }, "the JobManager refused a report");
          return;
        }
        last = error.message;
      }
      await this.#pause(
        Math.min(50 * 2 ** tries, MAX_RETRY_PAUSE_MS, deadline - performance.now()),
      );
    }
  }

  /** A pause that `close` cuts short. */
  #pause(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}

/** One JobManager's share of the counters: its running subtasks of one attempt. */
export interface MetricsBatch {
  jmSubject: string;
  report: TaskMetricsReport;
}

/** Sends each JobManager its subtasks' counters, once, within `timeoutMs` (best effort). */
export function sendMetrics(
  batches: MetricsBatch[],
  jobManager: (jmSubject: string, timeoutMs: number) => JobManagerTaskClient,
  timeoutMs: number,
  log: Logger,
): void {
  for (const { jmSubject, report } of batches) {
    void unwrap(jobManager(jmSubject, timeoutMs).tasks.metrics.$post({ json: report })).catch(
      (err: unknown) =>
        log.debug({ jm: jmSubject, err: toFlotillaError(err).message }, "task metrics not sent"),
    );
  }
}
