/**
 * What the CLI talks to: a remote cluster's REST API (`--cluster <url>` or FLOTILLA_CLUSTER), or
 * an embedded MiniCluster started in this process when no cluster is configured.
 */
import { startMiniCluster } from "../cluster/mod.ts";
import { ErrorCode, FlotillaError, fromWire } from "../core/mod.ts";

export interface ClusterApi {
  readonly target: string;
  call(method: string, path: string, body?: unknown): Promise<any>;
  upload(bytes: Uint8Array): Promise<string>;
  close(): Promise<void>;
}

async function decode(res: Response): Promise<any> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  if (!res.ok) throw fromWire(res.status, body);
  return body;
}

export function remoteCluster(url: string): ClusterApi {
  const base = url.replace(/\/+$/, "");
  const request = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(base + path, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new FlotillaError(
        ErrorCode.UNAVAILABLE,
        `cannot reach the cluster at ${base} (${cause}): is it running? check --cluster / FLOTILLA_CLUSTER`,
      );
    }
  };
  return {
    target: base,
    async call(method, path, body) {
      return decode(
        await request(path, {
          method,
          ...(body === undefined
            ? {}
            : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        }),
      );
    },
    async upload(bytes) {
      return (
        await decode(await request("/artifacts", { method: "POST", body: bytes as BodyInit }))
      ).artifact;
    },
    close: async () => {},
  };
}

export async function localCluster(): Promise<ClusterApi> {
  const { connect } = await import("@nats-io/transport-node");
  const natsUrl = process.env.FLOTILLA_NATS_URL;
  const mini = await startMiniCluster({
    taskManagers: 1,
    slotsPerTaskManager: 8,
    ...(natsUrl
      ? { connectNats: (servers?: string) => connect({ servers: servers ?? natsUrl }) }
      : {}),
  });
  const request = async (path: string, init: RequestInit) =>
    decode(await mini.rest.request(path, init));
  return {
    target: "embedded MiniCluster",
    call: (method, path, body) =>
      request(path, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
      }),
    upload: async (bytes) =>
      (await request("/artifacts", { method: "POST", body: bytes as BodyInit })).artifact,
    close: () => mini.stop(),
  };
}
