/**
 * What the CLI talks to: a remote cluster's REST API over HTTP (`http://host:8081`), the same
 * API over NATS (`nats://host:4222`, the way in when only NATS is reachable), or an embedded
 * MiniCluster started in this process when no cluster is configured. Each is a client typed from
 * the Dispatcher's contract (`DispatcherApp`), so a renamed route or field is a compile error here.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, subjects, toFlotillaError } from "../core/mod.ts";
import { artifactHash } from "../dataflow/internal_mod.ts";
import type { DispatcherApp, JobOverview, JobSubmitted, SubmitJob } from "../protocol/mod.ts";
import { createClient, httpTransport, type RpcClient, type Transport, unwrap } from "../rpc/mod.ts";
import { type NatsConnectOptions, withBearer } from "../security/mod.ts";

export interface Uploaded {
  artifact: string;
  /** False when the cluster already had these bytes and the upload was skipped. */
  uploaded: boolean;
  bytes: number;
}

export interface ClusterApi {
  readonly target: string;
  /** The Dispatcher's API; `unwrap(call)` gives a call's typed body or throws its typed error. */
  readonly client: RpcClient<DispatcherApp>;
  /** Uploads an artifact unless the cluster already has it (content-addressed by sha256). */
  upload(bytes: Uint8Array): Promise<Uploaded>;
  /**
   * Submits a job. A 429 (the cluster is busy: nothing was done) is retried with backoff for up
   * to `SUBMIT_PATIENCE_MS`, each retry told to `onBusy`.
   */
  submit(request: SubmitJob, onBusy?: (why: string) => void): Promise<JobSubmitted>;
  /** Every job the cluster keeps, newest first (`GET /jobs/overview`, as Flink's `flink list` reads it). */
  jobs(): Promise<JobOverview[]>;
  close(): Promise<void>;
}

/** How long `submit` retries a busy cluster (429) before it gives up with the refusal. */
export const SUBMIT_PATIENCE_MS = 60_000;

/**
 * The cluster did not answer at all. Not retried call by call: a command that waits through a
 * failover retries it itself and says so; the others fail at once, in one line.
 */
class ClusterUnreachableError extends FlotillaError {
  override name = "ClusterUnreachableError";
  override readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.UNAVAILABLE, message, options);
  }
}

/** `transport`, its failures to deliver explained by `explain` (where, and what to check). */
function explained(transport: Transport, explain: (cause: FlotillaError) => string): Transport {
  return {
    target: transport.target,
    ...(transport.settling ? { settling: () => transport.settling!() } : {}),
    send: (request, timeoutMs) =>
      transport.send(request, timeoutMs).catch((thrown: unknown) => {
        const cause = toFlotillaError(thrown);
        if (cause instanceof ClusterUnreachableError || cause.code !== ErrorCode.UNAVAILABLE)
          throw cause;
        throw new ClusterUnreachableError(explain(cause), { cause });
      }),
  };
}

function api(target: string, client: RpcClient<DispatcherApp>, close = async () => {}): ClusterApi {
  return {
    target,
    client,
    async upload(bytes) {
      const artifact = await artifactHash(bytes);
      try {
        await unwrap(client.artifacts[":artifact"].$get({ param: { artifact } }));
        return { artifact, uploaded: false, bytes: bytes.byteLength };
      } catch (err) {
        if (toFlotillaError(err).code !== ErrorCode.NOT_FOUND) throw err;
      }
      // The route takes the bundle's bytes as they are, not a JSON body (copied onto an
      // ArrayBuffer, which is what a request body may be).
      const body = new Uint8Array(bytes);
      const stored = await unwrap(client.artifacts.$post(undefined, { init: { body } }));
      return { artifact: stored.artifact, uploaded: true, bytes: bytes.byteLength };
    },
    async submit(request, onBusy) {
      const giveUp = Date.now() + SUBMIT_PATIENCE_MS;
      for (let backoff = 250; ; backoff = Math.min(backoff * 2, 5000)) {
        try {
          return await unwrap(client.jobs.$post({ json: request }));
        } catch (err) {
          const error = toFlotillaError(err);
          if (error.code !== ErrorCode.TOO_MANY_REQUESTS || Date.now() + backoff > giveUp)
            throw error;
          onBusy?.(error.message);
          await new Promise((resolve) => setTimeout(resolve, backoff));
        }
      }
    },
    jobs: async () => (await unwrap(client.jobs.overview.$get())).jobs,
    close,
  };
}

/**
 * `timeoutMs`: deadline of one request (config `client.timeout`); `token`: the REST token every
 * request carries (config `rest.token-file`).
 */
export function remoteCluster(
  url: string,
  {
    clusterId = "default",
    timeoutMs = 30_000,
    token,
    ca,
    nats = {},
  }: {
    clusterId?: string;
    timeoutMs?: number;
    token?: string;
    /** A CA (PEM) an https:// cluster's certificate is checked with, besides the system's. */
    ca?: string;
    /** How a nats:// address is connected to (credentials, TLS; its servers are `url`). */
    nats?: Omit<NatsConnectOptions, "servers">;
  } = {},
): ClusterApi {
  if (/^(nats|tls):\/\//.test(url)) return natsCluster(url, clusterId, timeoutMs, token, nats);
  if (!/^https?:\/\//.test(url))
    throw Object.assign(
      new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `bad cluster address ${JSON.stringify(url)}: use http://host:8081 or nats://host:4222`,
      ),
      { usage: true },
    );
  const base = url.replace(/\/+$/, "");
  const transport = explained(
    withBearer(httpTransport(base, ca ? { ca } : {}), token),
    (cause) =>
      `cannot reach the cluster at ${base} (${cause.message}): is it running? check --cluster / FLOTILLA_CLUSTER_ADDRESS`,
  );
  return api(
    base,
    createClient<DispatcherApp>(transport, { timeoutMs, attemptTimeoutMs: timeoutMs }),
  );
}

/** The Dispatcher's API on `flotilla.<clusterId>.dispatcher`, connecting on the first call. */
function natsCluster(
  url: string,
  clusterId: string,
  timeoutMs: number,
  token: string | undefined,
  natsOptions: Omit<NatsConnectOptions, "servers">,
): ClusterApi {
  const subject = subjects.dispatcher(clusterId);
  let connection: Promise<{ nc: NatsConnection; transport: Transport }> | undefined;
  const connected = () => {
    connection ??= (async () => {
      const { connect } = await import("@nats-io/transport-node");
      const { natsTransport } = await import("../rpc/mod.ts");
      const nc = await connect({
        ...natsOptions,
        servers: url,
        name: "flotilla-cli",
        maxReconnectAttempts: 2,
      });
      return { nc, transport: withBearer(natsTransport(nc, subject), token) };
    })().catch((err: unknown) => {
      throw new ClusterUnreachableError(
        `cannot reach the cluster at ${url} (${(err as Error).message}): is it running? check --cluster / FLOTILLA_CLUSTER_ADDRESS`,
        { cause: err },
      );
    });
    return connection;
  };
  const transport = explained(
    {
      target: subject,
      send: async (request, ms) => (await connected()).transport.send(request, ms),
    },
    () =>
      `no dispatcher of cluster '${clusterId}' answers on ${url}: is it running? is --cluster-id (FLOTILLA_CLUSTER_ID) right?`,
  );
  const client = createClient<DispatcherApp>(transport, {
    timeoutMs,
    attemptTimeoutMs: timeoutMs,
  });
  return api(`${url} (cluster ${clusterId})`, client, async () => {
    if (connection) await (await connection.catch(() => undefined))?.nc.close();
  });
}

/** `natsUrl` (config `nats.url`): where jobs with NATS sources or sinks connect. */
export async function localCluster({
  natsUrl,
  timeoutMs = 30_000,
}: {
  natsUrl: string;
  timeoutMs?: number;
}): Promise<ClusterApi> {
  // Loaded here, not at the top: a remote run does not need the whole cluster in memory.
  const { startMiniCluster } = await import("../cluster/mod.ts");
  const { connect } = await import("@nats-io/transport-node");
  const mini = await startMiniCluster({
    taskManagers: 1,
    slotsPerTaskManager: 8,
    clientTimeoutMs: timeoutMs,
    connectNats: (servers?: string) => connect({ servers: (servers ?? natsUrl).split(",") }),
  });
  return api("embedded MiniCluster", mini.client, () => mini.stop());
}
