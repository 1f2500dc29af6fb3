/**
 * The Docker socket proxy (`flotilla start docker-proxy`): the one process with the Docker
 * socket, serving the ResourceManager the calls of its docker driver on a unix socket of its own,
 * filtered by policy.ts and create_body.ts; refusals are 403s in the Engine's error shape.
 */
import { chmodSync, rmSync } from "node:fs";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { type Logger, silentLogger } from "../../core/mod.ts";
import { createBodyRefusal } from "./create_body.ts";
import { judgeCall, labelsAllow, type ProxyPolicyOptions } from "./policy.ts";

export interface DockerProxyOptions extends ProxyPolicyOptions {
  /** Where the proxy listens (a unix socket; made 0666 for the ResourceManager's user). */
  listenPath: string;
  /** The Docker Engine's socket. @default "/var/run/docker.sock" */
  upstreamPath?: string;
  /** Largest request body (create JSON, archives of handed files). @default 1 MiB */
  maxBodyBytes?: number;
  log?: Logger;
}

export interface DockerProxy {
  readonly listenPath: string;
  close(): Promise<void>;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startDockerProxy({
  listenPath,
  upstreamPath = "/var/run/docker.sock",
  maxBodyBytes = 1024 * 1024,
  log = silentLogger,
  ...policy
}: DockerProxyOptions): Promise<DockerProxy> {
  /** One call to the Engine, its reply streamed to `res` (events and logs stream). */
  function forward(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    res: ServerResponse,
  ): void {
    const up = httpRequest({ socketPath: upstreamPath, method, path, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      // The event stream's headers say it is open; its first event may be long in coming.
      res.flushHeaders();
      upRes.pipe(res);
    });
    up.on("error", (err) => {
      if (!res.headersSent)
        refuse(
          res,
          502,
          `flotilla docker proxy: the Docker Engine at ${upstreamPath}: ${err.message}`,
        );
      else res.destroy();
    });
    res.on("close", () => up.destroy());
    up.end(body);
  }

  /** The labels of container `id` as the Engine has them, and its full id. */
  function inspect(
    version: string,
    id: string,
  ): Promise<{ id: string; labels?: Record<string, string> } | undefined> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { socketPath: upstreamPath, path: `${version}/containers/${encodeURIComponent(id)}/json` },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            if (res.statusCode !== 200) return resolve(undefined);
            try {
              const c = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
                Id: string;
                Config?: { Labels?: Record<string, string> };
              };
              resolve({ id: c.Id, ...(c.Config?.Labels ? { labels: c.Config.Labels } : {}) });
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://docker");
    const versioned = url.pathname.match(/^(\/v\d+\.\d+)(\/.*)$/);
    const version = versioned?.[1] ?? "";
    const path = versioned?.[2] ?? url.pathname;
    const method = req.method ?? "GET";
    const verdict = judgeCall({ method, path, query: url.searchParams }, policy);
    if (!verdict.allow) {
      log.warn({ method, path }, verdict.message);
      return refuse(res, verdict.status, verdict.message);
    }
    let target = path;
    if (verdict.containerId) {
      const found = await inspect(version, verdict.containerId);
      if (!found || !labelsAllow(found.labels, policy)) {
        // Not found and not ours answer alike: the proxy tells nothing of other containers.
        const message = `flotilla docker proxy: no TaskManager container ${verdict.containerId} of cluster ${policy.clusterId}`;
        log.warn({ method, path }, message);
        return refuse(res, 404, message);
      }
      // The full id, looked up above: a name cannot be moved to another container meanwhile.
      target = path.replace(`/containers/${verdict.containerId}`, `/containers/${found.id}`);
    }
    let body: Buffer | undefined;
    const headers: Record<string, string> = {};
    if (verdict.kind !== "plain") {
      body = await readBody(req, maxBodyBytes);
      if (!body)
        return refuse(res, 413, `flotilla docker proxy: a body over ${maxBodyBytes} bytes`);
      headers["content-type"] =
        verdict.kind === "create" ? "application/json" : "application/x-tar";
      headers["content-length"] = String(body.length);
    }
    if (verdict.kind === "create") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body!.toString("utf8"));
      } catch {
        return refuse(res, 400, "flotilla docker proxy: the create body is not JSON");
      }
      const why = createBodyRefusal(parsed, policy);
      if (why) {
        log.warn({ method, path }, `refused a container: ${why}`);
        return refuse(res, 403, `flotilla docker proxy: ${why}`);
      }
    }
    const qs = verdict.query.toString();
    forward(method, `${version}${target}${qs ? `?${qs}` : ""}`, headers, body, res);
  }

  rmSync(listenPath, { force: true });
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.error({ err: err.message }, "docker proxy: a call failed");
      if (!res.headersSent) refuse(res, 502, `flotilla docker proxy: ${err.message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPath, resolve);
  });
  // The ResourceManager runs as another user; only containers given this volume see the socket.
  chmodSync(listenPath, 0o666);
  log.info(
    { listen: listenPath, upstream: upstreamPath, cluster: policy.clusterId },
    "Docker socket proxy up",
  );
  return {
    listenPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
