/**
 * The job control commands over Flink's REST API: cancel (`PATCH /jobs/:jid`, then wait for the
 * end), savepoint and stop (asynchronous triggers polled until COMPLETED, as Flink's CLI does).
 */
import { type Config, ErrorCode, FlotillaError, isJobEnd, TimeoutError } from "../core/mod.ts";
import type { AsynchronousOperationResult } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import type { ClusterApi } from "./cluster_api.ts";
import { EXIT, type Output } from "./io.ts";
import { detailsOf, seconds, throughFailover, withCluster } from "./job_reads.ts";

/** While a job has not ended or an operation not completed, how often the CLI says it waits. */
const PROGRESS_MS = 5000;
const POLL_MS = 100;

/**
 * Waits, up to `timeoutMs`, until the canceled job ended; prints `<jid> <state>` (JSON: `jid`,
 * `state`). Nothing announces a job's end to a client: it asks.
 */
async function untilEnded(
  cluster: ClusterApi,
  jobId: string,
  timeoutMs: number,
  out: Output,
): Promise<number> {
  const started = performance.now();
  let said = started;
  for (;;) {
    const { state } = await detailsOf(cluster, jobId);
    if (isJobEnd(state)) {
      if (out.json) out.event({ jid: jobId, state });
      else out.line(`${jobId} ${state}`);
      return EXIT.ok;
    }
    const waited = performance.now() - started;
    if (waited >= timeoutMs)
      throw new TimeoutError(
        `job ${jobId} was canceled but did not end within ${seconds(timeoutMs)} (it is ${state}): 'flotilla status ${jobId}' shows what it waits for; wait longer with --timeout (client.cancel-timeout)`,
      );
    if (performance.now() - said >= PROGRESS_MS) {
      said = performance.now();
      out.event({ event: "waiting", jid: jobId, state, waitedMs: Math.round(waited) });
      if (!out.json)
        out.line(
          `${jobId} ${state}: waiting for it to end (${seconds(waited)} of ${seconds(timeoutMs)})`,
        );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A trigger id of the CLI's own: a trigger retried after a lost answer starts nothing new. */
function newTriggerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Polls `GET /jobs/:jid/savepoints/:triggerid` until the operation completed, saying every few
 * seconds that it waits; its result, or the operation's failure as a typed error (the code the
 * Dispatcher wrote into the failure cause). Gives up after `timeoutMs` (`client.timeout`).
 */
async function completed(
  cluster: ClusterApi,
  what: string,
  jobId: string,
  triggerId: string,
  timeoutMs: number,
  out: Output,
): Promise<AsynchronousOperationResult & { operation: { location: string } }> {
  const started = performance.now();
  let said = started;
  for (;;) {
    const result = await throughFailover(
      () =>
        unwrap(
          cluster.client.jobs[":jobid"].savepoints[":triggerid"].$get({
            param: { jobid: jobId, triggerid: triggerId },
          }),
        ),
      out,
    );
    const operation = result.operation;
    if (result.status.id === "COMPLETED" && operation) {
      if ("location" in operation) return { ...result, operation };
      const cause = operation["failure-cause"]["stack-trace"];
      const code = /^([A-Z_]+): /.exec(cause)?.[1];
      throw new FlotillaError(
        code && ERROR_CODES.has(code) ? (code as ErrorCode) : ErrorCode.INTERNAL,
        `the ${what} of job ${jobId} failed: ${code && ERROR_CODES.has(code) ? cause.slice(code.length + 2) : cause}`,
      );
    }
    const waited = performance.now() - started;
    if (waited >= timeoutMs)
      throw new TimeoutError(
        `the ${what} of job ${jobId} did not complete within ${seconds(timeoutMs)}: it may still; ask GET /jobs/${jobId}/savepoints/${triggerId}, or wait longer with --timeout (client.timeout)`,
      );
    if (performance.now() - said >= PROGRESS_MS) {
      said = performance.now();
      out.event({
        event: "waiting",
        jid: jobId,
        "request-id": triggerId,
        waitedMs: Math.round(waited),
      });
      if (!out.json)
        out.line(
          `waiting for the ${what} of ${jobId} (${seconds(waited)} of ${seconds(timeoutMs)})`,
        );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Cancels the job and waits, up to `client.cancel-timeout` (`--timeout`), until it ended. */
export function cancel(
  jobId: string,
  _flags: Record<string, unknown>,
  out: Output,
  config: Config,
) {
  return withCluster(config, async (cluster) => {
    await unwrap(
      cluster.client.jobs[":jobid"].$patch({ param: { jobid: jobId }, query: { mode: "cancel" } }),
    );
    return untilEnded(cluster, jobId, config["client.cancel-timeout"], out);
  });
}

/**
 * With `--savepoint`, Flink's stop-with-savepoint (`POST /jobs/:jid/stop`): the job takes a
 * savepoint and ends FINISHED; prints `<jid> <state>, savepoint <location>` (JSON: the
 * operation's result with `jid`, `request-id` and the job's `state`). Without, it cancels.
 */
export function stop(jobId: string, flags: Record<string, unknown>, out: Output, config: Config) {
  return withCluster(config, async (cluster) => {
    if (!flags.savepoint) {
      await unwrap(
        cluster.client.jobs[":jobid"].$patch({ param: { jobid: jobId }, query: { mode: "stop" } }),
      );
      return untilEnded(cluster, jobId, config["client.cancel-timeout"], out);
    }
    const { "request-id": triggerId } = await unwrap(
      cluster.client.jobs[":jobid"].stop.$post({
        param: { jobid: jobId },
        json: { triggerId: newTriggerId() },
      }),
    );
    const result = await completed(
      cluster,
      "stop",
      jobId,
      triggerId,
      config["client.timeout"],
      out,
    );
    const { state } = await throughFailover(() => detailsOf(cluster, jobId), out);
    const location = result.operation.location;
    if (out.json) out.event({ jid: jobId, "request-id": triggerId, state, ...result });
    else out.line(`${jobId} ${state}, savepoint ${location}`);
    return EXIT.ok;
  });
}

/**
 * Triggers a savepoint (`POST /jobs/:jid/savepoints`) and waits until it completed; prints its
 * location alone (JSON: the operation's result with `jid` and `request-id`).
 */
export function savepoint(
  jobId: string,
  _flags: Record<string, unknown>,
  out: Output,
  config: Config,
) {
  return withCluster(config, async (cluster) => {
    const { "request-id": triggerId } = await unwrap(
      cluster.client.jobs[":jobid"].savepoints.$post({
        param: { jobid: jobId },
        json: { triggerId: newTriggerId() },
      }),
    );
    const result = await completed(
      cluster,
      "savepoint",
      jobId,
      triggerId,
      config["client.timeout"],
      out,
    );
    if (out.json) out.event({ jid: jobId, "request-id": triggerId, ...result });
    else out.line(result.operation.location);
    return EXIT.ok;
  });
}
