/**
 * A flotilla cluster of real processes for tests: `flotilla start <role>` per process against a
 * test nats-server, reached over REST (typed by the Dispatcher's contract). Every process is
 * killed at teardown.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { isJobEnd } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import type { JobDetailsInfo } from "../../components/protocol/mod.ts";
import { httpTransport, type Transport, unwrap } from "../../components/rpc/mod.ts";
import { freePort, type NatsServer, onProcessEnd } from "./nats.ts";
import { until } from "./poll.ts";
import { type DispatcherRest, dispatcherRest, type RestCall, restCall } from "./rest.ts";
import { authorized, TOKEN_ENV } from "./rest_token.ts";

const BIN = fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The Dispatcher's REST API of whichever master `rest` points at. */
export interface ClusterProcesses extends DispatcherRest {
  /**
   * The REST endpoint every call uses; a test whose master moves (the `auto` role) points it at
   * the new one.
   */
  rest: string;
  readonly env: Record<string, string>;
  /** Every process started so far, in order. */
  readonly processes: ChildProcess[];
  /**
   * Starts one more role process; returns it. With `onLine`, its stdout (JSON log lines) is
   * read line by line instead of ignored.
   */
  spawn(
    role: string,
    extraEnv?: Record<string, string>,
    options?: { onLine?: (line: string) => void },
  ): ChildProcess;
  /** One raw REST call (bad input, error statuses); the typed reads are `api` and its helpers. */
  call: RestCall;
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** Uploads a bundled example and submits it; returns the job id. */
  submit(
    example: string,
    request?: { args?: Record<string, string>; parallelism?: number; savepoint?: string },
  ): Promise<string>;
  /** Waits until the job is finished, failed or canceled; returns its details. */
  result(jobId: string, timeoutMs?: number): Promise<JobDetailsInfo>;
}

const live = new Set<ChildProcess>();
onProcessEnd(() => {
  for (const child of live) child.kill("SIGKILL");
});

export async function clusterFor(
  t: Teardown,
  nats: NatsServer,
  {
    roles = ["master", "taskmanager", "taskmanager"],
    env: extra = {},
    onLine,
    ready,
    restCa,
  }: {
    roles?: string[];
    env?: Record<string, string>;
    /** Reads the stdout (JSON log lines) of the roles started here, instead of ignoring it. */
    onLine?: (line: string, role: string) => void;
    /**
     * Resolves when the cluster is up. @default /overview on `rest` shows as many TaskManagers
     * as `roles` has "taskmanager" entries
     */
    ready?: (cluster: ClusterProcesses) => Promise<unknown>;
    /** The REST API is HTTPS (`rest.tls.*` in `env`), its certificate signed by this CA (PEM). */
    restCa?: string;
  } = {},
): Promise<ClusterProcesses> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    FLOTILLA_NATS_URL: nats.url,
    FLOTILLA_CLUSTER_ID: `t${port}`,
    FLOTILLA_REST_PORT: String(port),
    FLOTILLA_REST_ADDRESS: "127.0.0.1",
    FLOTILLA_LOG_LEVEL: process.env.FLOTILLA_TEST_LOG ?? "error",
    FLOTILLA_HEARTBEAT_INTERVAL: "250",
    FLOTILLA_HEARTBEAT_TIMEOUT: "1500",
    FLOTILLA_HA_LEASE: "1500",
    ...TOKEN_ENV,
    ...extra,
  };
  const rest = `${restCa ? "https" : "http"}://127.0.0.1:${port}`;
  // Follows `cluster.rest`, which a test may move to another master.
  const transport: Transport = authorized({
    get target() {
      return cluster.rest;
    },
    send: (request, timeoutMs) =>
      httpTransport(cluster.rest, restCa ? { ca: restCa } : {}).send(request, timeoutMs),
  });
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(
      children.map((c) =>
        c.exitCode === null && c.signalCode === null
          ? new Promise((r) => c.once("exit", r))
          : undefined,
      ),
    );
  });
  const cluster: ClusterProcesses = {
    ...dispatcherRest(transport),
    rest,
    env,
    processes: children,
    spawn(role, extraEnv = {}, { onLine } = {}) {
      const child = spawn(process.execPath, [BIN, "start", role], {
        cwd: ROOT,
        env: { ...env, ...extraEnv },
        stdio: ["ignore", onLine ? "pipe" : "ignore", "inherit"],
      });
      if (onLine && child.stdout) {
        createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", onLine);
      }
      children.push(child);
      live.add(child);
      child.once("exit", () => live.delete(child));
      return child;
    },
    call: restCall(transport),
    waitFor: (what, probe, timeoutMs = 20_000) => until(probe, what, { timeoutMs, intervalMs: 50 }),
    async submit(example, request = {}) {
      // "wordcount.ts" is an example; a path with a folder is relative to the repository.
      const path = example.includes("/") ? example : `examples/${example}`;
      const bundled = await bundleJob(fileURLToPath(new URL(`../../${path}`, import.meta.url)));
      // The route takes the bundle as it is (copied onto an ArrayBuffer, as a request body is).
      const body = new Uint8Array(bundled);
      const { artifact } = await unwrap(cluster.api.artifacts.$post(undefined, { init: { body } }));
      const { jobId } = await unwrap(cluster.api.jobs.$post({ json: { artifact, ...request } }));
      return jobId;
    },
    async result(jobId, timeoutMs = 60_000) {
      let last: unknown;
      return await cluster
        .waitFor(
          `job ${jobId} to end`,
          async () => {
            const details = await cluster.job(jobId);
            last = details;
            return isJobEnd(details.state) ? details : undefined;
          },
          timeoutMs,
        )
        .catch(async (err: Error) => {
          const resources = await cluster.taskManagers().catch(() => undefined);
          throw new Error(
            `${err.message}; last seen ${JSON.stringify(last)}; taskmanagers ${JSON.stringify(resources)}`,
          );
        });
    },
  };
  for (const role of roles)
    cluster.spawn(role, {}, onLine ? { onLine: (line) => onLine(line, role) } : {});
  if (ready) {
    await ready(cluster);
    return cluster;
  }
  const tms = roles.filter((r) => r === "taskmanager").length;
  await cluster.waitFor("the cluster to come up", async () => {
    const overview = await cluster.overview();
    return overview.taskmanagers === tms ? overview : undefined;
  });
  return cluster;
}
