/**
 * The Dispatcher's REST API from a test, over any transport (HTTP, NATS, in-process): a client
 * typed by its contract (components/protocol's `DispatcherApp`), the reads tests make most, and a
 * raw call for what the contract does not type (bad input, error statuses, another block's API).
 */
import { JSON_TYPE, json } from "../../components/core/mod.ts";
import type {
  AsynchronousOperationResult,
  ClusterOverviewWithVersion,
  CollectedResults,
  DispatcherApp,
  EmptyResponseBody,
  FlinkTaskManagerDetailsInfo,
  FlinkTaskManagerInfo,
  JobDetailsInfo,
  JobOverview,
  JobVertexDetailsInfo,
} from "../../components/protocol/mod.ts";
import {
  type ClientOptions,
  createClient,
  type RpcClient,
  type Transport,
  unwrap,
} from "../../components/rpc/mod.ts";
import { until } from "./poll.ts";

/** A reply as it came: the status, and the body parsed as JSON (the text when it is not JSON). */
export interface RestReply {
  status: number;
  body: unknown;
}

/** One call as a REST user makes it (no retry): JSON in, or raw bytes (an artifact upload). */
export type RestCall = (method: string, path: string, body?: unknown) => Promise<RestReply>;

/**
 * `call` on `transport`, one attempt within `timeoutMs`: what a test of bad input or error
 * statuses needs, where the typed client would refuse to build the request.
 */
export function restCall(transport: Transport, { timeoutMs = 30_000 } = {}): RestCall {
  return async (method, path, body) => {
    const headers: Record<string, string> = { accept: JSON_TYPE };
    let bytes: Uint8Array | undefined;
    if (body instanceof Uint8Array) bytes = body;
    else if (body !== undefined) {
      headers["content-type"] = JSON_TYPE;
      bytes = json.encode(body);
    }
    const reply = await transport.send({ method, path, headers, body: bytes }, timeoutMs);
    const text = new TextDecoder().decode(reply.body ?? new Uint8Array());
    try {
      return { status: reply.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: reply.status, body: text };
    }
  };
}

/**
 * The Dispatcher's API typed by its contract, and the reads tests make most, each answering
 * Flink's body for its route.
 */
export interface DispatcherRest {
  /** Every route: `await unwrap(api.jobs[":jobid"].$get({ param: { jobid } }))`. */
  readonly api: RpcClient<DispatcherApp>;
  /** Each read below throws the reply's typed error when it is not a 2xx. */
  overview(): Promise<ClusterOverviewWithVersion>;
  /** Every job the Dispatcher keeps, newest first (`GET /jobs/overview`). */
  jobs(): Promise<JobOverview[]>;
  job(jobId: string): Promise<JobDetailsInfo>;
  /** One vertex with its subtasks; `vertexId` is the hex id or flotilla's. */
  vertex(jobId: string, vertexId: string): Promise<JobVertexDetailsInfo>;
  results(jobId: string): Promise<CollectedResults>;
  /** The ResourceManager's view of its TaskManagers. */
  taskManagers(): Promise<FlinkTaskManagerInfo[]>;
  /** One TaskManager with its allocated slots. */
  taskManager(tmId: string): Promise<FlinkTaskManagerDetailsInfo>;
  /** Every TaskManager with its allocated slots (`GET /taskmanagers/:id` of each). */
  taskManagerDetails(): Promise<FlinkTaskManagerDetailsInfo[]>;
  /** Starts canceling the job (`PATCH /jobs/:jobid?mode=cancel`). */
  cancel(jobId: string): Promise<EmptyResponseBody>;
  /**
   * Triggers a savepoint (`cancelJob`: a stop-with-savepoint) and polls the operation until it
   * completed; its result (a location or a failure cause).
   */
  savepoint(jobId: string, options?: { cancelJob?: boolean }): Promise<AsynchronousOperationResult>;
}

/**
 * The Dispatcher's API on `transport` in JSON, as a REST user speaks it. Each call has
 * `timeoutMs` (a read is retried within it while the Dispatcher is unreachable).
 */
export function dispatcherRest(
  transport: Transport,
  { timeoutMs = 10_000 }: Pick<ClientOptions, "timeoutMs"> = {},
): DispatcherRest {
  const api = createClient<DispatcherApp>(transport, {
    codec: json,
    headers: { accept: JSON_TYPE },
    timeoutMs,
    attemptTimeoutMs: timeoutMs,
  });
  const taskManager = (taskmanagerid: string) =>
    unwrap(api.taskmanagers[":taskmanagerid"].$get({ param: { taskmanagerid } }));
  return {
    api,
    overview: () => unwrap(api.overview.$get()),
    jobs: async () => (await unwrap(api.jobs.overview.$get())).jobs,
    job: (jobid) => unwrap(api.jobs[":jobid"].$get({ param: { jobid } })),
    vertex: (jobid, vertexid) =>
      unwrap(api.jobs[":jobid"].vertices[":vertexid"].$get({ param: { jobid, vertexid } })),
    results: (jobid) => unwrap(api.jobs[":jobid"].results.$get({ param: { jobid } })),
    taskManagers: async () => (await unwrap(api.taskmanagers.$get())).taskmanagers,
    taskManager,
    async taskManagerDetails() {
      const { taskmanagers } = await unwrap(api.taskmanagers.$get());
      return Promise.all(taskmanagers.map((tm) => taskManager(tm.id)));
    },
    cancel: (jobid) =>
      unwrap(api.jobs[":jobid"].$patch({ param: { jobid }, query: { mode: "cancel" } })),
    async savepoint(jobid, { cancelJob = false } = {}) {
      const { "request-id": triggerid } = await unwrap(
        api.jobs[":jobid"].savepoints.$post({
          param: { jobid },
          json: { "cancel-job": cancelJob },
        }),
      );
      return until(
        async () => {
          const result = await unwrap(
            api.jobs[":jobid"].savepoints[":triggerid"].$get({ param: { jobid, triggerid } }),
          );
          return result.status.id === "COMPLETED" ? result : undefined;
        },
        `the savepoint ${triggerid} of job ${jobid} to complete`,
        { timeoutMs: 60_000 },
      );
    },
  };
}
