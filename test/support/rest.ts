/**
 * The Dispatcher's REST API from a test, over any transport (HTTP, NATS, in-process): a client
 * typed by its contract (components/protocol's `DispatcherApp`), the reads tests make most, and a
 * raw call for what the contract does not type (bad input, error statuses, another block's API).
 */
import { JSON_TYPE, json } from "../../components/core/mod.ts";
import type {
  CancelAccepted,
  ClusterOverview,
  CollectedResults,
  DispatcherApp,
  JobDetails,
  JobSummary,
  TaskManagerInfo,
} from "../../components/protocol/mod.ts";
import {
  type ClientOptions,
  createClient,
  type RpcClient,
  type Transport,
  unwrap,
} from "../../components/rpc/mod.ts";

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

/** The Dispatcher's API typed by its contract, and the reads tests make most. */
export interface DispatcherRest {
  /** Every route: `await unwrap(api.jobs[":jobId"].$get({ param: { jobId } }))`. */
  readonly api: RpcClient<DispatcherApp>;
  /** Each read below throws the reply's typed error when it is not a 2xx. */
  overview(): Promise<ClusterOverview>;
  jobs(): Promise<JobSummary[]>;
  job(jobId: string): Promise<JobDetails>;
  results(jobId: string): Promise<CollectedResults>;
  /** The ResourceManager's view of its TaskManagers. */
  taskManagers(): Promise<TaskManagerInfo[]>;
  /** Starts canceling the job (`PATCH /jobs/:jobId?mode=cancel`). */
  cancel(jobId: string): Promise<CancelAccepted>;
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
  return {
    api,
    overview: () => unwrap(api.overview.$get()),
    jobs: async () => (await unwrap(api.jobs.$get({ query: {} }))).jobs,
    job: (jobId) => unwrap(api.jobs[":jobId"].$get({ param: { jobId } })),
    results: (jobId) => unwrap(api.jobs[":jobId"].results.$get({ param: { jobId } })),
    taskManagers: async () => (await unwrap(api.taskmanagers.$get())).taskmanagers,
    cancel: (jobId) =>
      unwrap(api.jobs[":jobId"].$patch({ param: { jobId }, query: { mode: "cancel" } })),
  };
}
