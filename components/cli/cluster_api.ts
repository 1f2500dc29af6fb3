/**
 * What the CLI talks to: a remote cluster's REST API over HTTP (`http://host:8081`), the same
 * API over NATS (`nats://host:4222`, the way in when only NATS is reachable), or an embedded
 * MiniCluster started in this process when no cluster is configured.
 */
import { ErrorCode, FlotillaError, fromWire, subjects } from "../core/mod.ts";
import { artifactHash } from "../dataflow/internal_mod.ts";
import type { FetchApp } from "../rpc/mod.ts";

export interface Uploaded {
  artifact: string;
  /** False when the cluster already had these bytes and the upload was skipped. */
  uploaded: boolean;
  bytes: number;
}

export interface ClusterApi {
  readonly target: string;
  call(method: string, path: string, body?: unknown): Promise<any>;
  /** Uploads an artifact unless the cluster already has it (content-addressed by sha256). */
  upload(bytes: Uint8Array): Promise<Uploaded>;
  close(): Promise<void>;
}

/** One HTTP-shaped request, however it travels; rejects with a typed error for a non-2xx. */
type Exchange = (method: string, path: string, body?: Uint8Array | string) => Promise<any>;

function decodeText(status: number, ok: boolean, text: string): any {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  if (!ok) throw fromWire(status, body);
  return body;
}

function api(target: string, exchange: Exchange, close = async () => {}): ClusterApi {
  return {
    target,
    call: (method, path, body) =>
      exchange(method, path, body === undefined ? undefined : JSON.stringify(body)),
    async upload(bytes) {
      const artifact = await artifactHash(bytes);
      try {
        await exchange("GET", `/artifacts/${artifact}`);
        return { artifact, uploaded: false, bytes: bytes.byteLength };
      } catch (err) {
        if ((err as FlotillaError).code !== ErrorCode.NOT_FOUND) throw err;
      }
      const stored = await exchange("POST", "/artifacts", bytes);
      return { artifact: stored.artifact, uploaded: true, bytes: bytes.byteLength };
    },
    close,
  };
}

const unreachable = (target: string, cause: string) =>
  new FlotillaError(
    ErrorCode.UNAVAILABLE,
    `cannot reach the cluster at ${target} (${cause}): is it running? check --cluster / FLOTILLA_CLUSTER_ADDRESS`,
  );

/** Requests to a fetch-style handler: the REST endpoint over HTTP, or an in-process app. */
function fetchExchange(base: string, fetchFn: typeof fetch, timeoutMs: number): Exchange {
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetchFn(base + path, {
        method,
        ...(body === undefined
          ? {}
          : typeof body === "string"
            ? { body, headers: { "content-type": "application/json" } }
            : { body: body as BodyInit }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw unreachable(base, (err as { cause?: Error }).cause?.message ?? (err as Error).message);
    }
    return decodeText(res.status, res.ok, await res.text());
  };
}

/** `timeoutMs`: deadline of one request (config `client.timeout`). */
export function remoteCluster(
  url: string,
  { clusterId = "default", timeoutMs = 30_000 }: { clusterId?: string; timeoutMs?: number } = {},
): ClusterApi {
  if (/^(nats|tls):\/\//.test(url)) return natsCluster(url, clusterId, timeoutMs);
  if (!/^https?:\/\//.test(url))
    throw Object.assign(
      new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `bad cluster address ${JSON.stringify(url)}: use http://host:8081 or nats://host:4222`,
      ),
      { usage: true },
    );
  const base = url.replace(/\/+$/, "");
  return api(base, fetchExchange(base, fetch, timeoutMs));
}

/** The Dispatcher's API on `flotilla.<clusterId>.dispatcher`, JSON bodies in the envelope. */
function natsCluster(url: string, clusterId: string, timeoutMs: number): ClusterApi {
  const subject = subjects.dispatcher(clusterId);
  const target = `${url} (cluster ${clusterId})`;
  let connection: Promise<import("@nats-io/transport-node").NatsConnection> | undefined;
  const connectOnce = () => {
    connection ??= import("@nats-io/transport-node").then(({ connect }) =>
      connect({ servers: url, name: "flotilla-cli", maxReconnectAttempts: 2 }).catch((err) => {
        throw unreachable(url, (err as Error).message);
      }),
    );
    return connection;
  };
  const exchange: Exchange = async (method, path, body) => {
    const { natsTransport, send, RpcResponse } = await import("../rpc/mod.ts");
    const transport = natsTransport(await connectOnce(), subject);
    const headers: Record<string, string> = { accept: "application/json" };
    if (typeof body === "string") headers["content-type"] = "application/json";
    let reply: InstanceType<typeof RpcResponse>;
    try {
      reply = new RpcResponse(
        await send(
          transport,
          {
            method,
            path,
            headers,
            body: typeof body === "string" ? new TextEncoder().encode(body) : body,
          },
          { timeoutMs },
        ),
      );
    } catch (err) {
      if ((err as FlotillaError).code === ErrorCode.UNAVAILABLE)
        throw new FlotillaError(
          ErrorCode.UNAVAILABLE,
          `no dispatcher of cluster '${clusterId}' answers on ${url}: is it running? is --cluster-id (FLOTILLA_CLUSTER_ID) right?`,
        );
      throw err;
    }
    return decodeText(reply.status, reply.ok, await reply.text());
  };
  return api(target, exchange, async () => {
    if (connection) await (await connection.catch(() => undefined))?.close();
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
  const app: FetchApp = mini.rest;
  const inProcess = ((input: string, init?: RequestInit) =>
    app.fetch(new Request(input, init))) as typeof fetch;
  return api("embedded MiniCluster", fetchExchange("http://mini", inProcess, timeoutMs), () =>
    mini.stop(),
  );
}
