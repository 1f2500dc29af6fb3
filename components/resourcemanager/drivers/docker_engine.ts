/**
 * The few Docker Engine API calls the docker driver needs, over the engine's unix socket with
 * node:http (no client library): JSON requests, the event stream, and errors as FlotillaErrors
 * that carry the engine's own message.
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { codeForStatus, FlotillaError, TimeoutError, UnavailableError } from "../../core/mod.ts";

export interface DockerEngineOptions {
  /** The Engine API socket. @default "/var/run/docker.sock" */
  socketPath?: string;
  /** API version prefix; 1.41 is Docker 20.10, and newer engines still serve it. @default "v1.41" */
  apiVersion?: string;
  /** Deadline of one call (not of the event stream). @default 60000 */
  timeoutMs?: number;
}

/** An error reply of the Engine API: its HTTP status and its message, as it said them. */
export class DockerEngineError extends FlotillaError {
  override name = "DockerEngineError";
  readonly engineStatus: number;
  readonly engineMessage: string;
  constructor(engineStatus: number, engineMessage: string, message: string) {
    super(codeForStatus(engineStatus), message);
    this.engineStatus = engineStatus;
    this.engineMessage = engineMessage;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface DockerEngine {
  readonly socketPath: string;
  /**
   * One call; resolves with the parsed JSON body (undefined when empty). A status in `accept`
   * (besides 2xx) resolves too, with its status, instead of rejecting.
   */
  call<T = unknown>(
    method: string,
    path: string,
    options?: { query?: Query; body?: unknown; accept?: number[] },
  ): Promise<{ status: number; body: T }>;
  /**
   * Extracts the tar archive `tar` into the container (created or running) at `path`
   * (`PUT /containers/{id}/archive`); owners and modes are the archive's own. It never puts a
   * file where the container has a directory, nor the reverse: the Engine refuses instead.
   */
  putArchive(containerId: string, path: string, tar: Uint8Array): Promise<void>;
  /** The raw body of a GET (e.g. container logs), as bytes. */
  raw(path: string, query?: Query): Promise<Buffer>;
  /** Follows `GET /events`: `onEvent` per JSON line until `close()` or the stream ends. */
  events(query: Query, onEvent: (event: unknown) => void): EventStream;
}

export interface EventStream {
  /** Resolves when the stream is open (the engine sends events from then on). */
  readonly opened: Promise<void>;
  /** Resolves when the stream ended, for whatever reason (never rejects). */
  readonly ended: Promise<void>;
  close(): void;
}

function pathWith(prefix: string, path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `/${prefix}${path}${qs ? `?${qs}` : ""}`;
}

/** What a socket error means for someone setting the driver up. */
function unreachable(socketPath: string, what: string, err: NodeJS.ErrnoException): FlotillaError {
  const hint =
    err.code === "ENOENT"
      ? "no such socket: is Docker running, and (in a container) is the socket mounted there?"
      : err.code === "EACCES"
        ? "permission denied: run as root or as a user in the socket's group (compose: group_add with the socket's gid)"
        : err.code === "ECONNREFUSED"
          ? "nothing listens there: is the Docker daemon running?"
          : "is the Docker daemon running?";
  return new UnavailableError(
    `cannot reach the Docker Engine at ${socketPath} (${what}): ${err.message}; ${hint} (config docker.socket)`,
    { cause: err },
  );
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks)));
    res.on("error", reject);
  });
}

export function dockerEngine({
  socketPath = "/var/run/docker.sock",
  apiVersion = "v1.41",
  timeoutMs = 60_000,
}: DockerEngineOptions = {}): DockerEngine {
  function send(
    method: string,
    path: string,
    query: Query | undefined,
    body: { type: string; bytes: Uint8Array } | undefined,
  ): Promise<{ status: number; bytes: Buffer }> {
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      const req: ClientRequest = httpRequest(
        {
          socketPath,
          method,
          path: pathWith(apiVersion, path, query),
          headers: body ? { "content-type": body.type, "content-length": body.bytes.length } : {},
          timeout: timeoutMs,
        },
        (res) => {
          readBody(res).then((bytes) => resolve({ status: res.statusCode ?? 0, bytes }), reject);
        },
      );
      req.on("timeout", () => {
        req.destroy();
        reject(
          new TimeoutError(
            `the Docker Engine at ${socketPath} did not answer ${what} within ${timeoutMs} ms`,
          ),
        );
      });
      req.on("error", (err) => reject(unreachable(socketPath, what, err)));
      req.end(body?.bytes);
    });
  }

  function failure(method: string, path: string, status: number, bytes: Buffer): FlotillaError {
    let message = bytes.toString("utf8").trim();
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    return new DockerEngineError(
      status,
      message,
      `Docker Engine ${method} ${path}: ${status} ${message || "(no message)"}`,
    );
  }

  return {
    socketPath,
    async call<T>(
      method: string,
      path: string,
      { query, body, accept = [] }: { query?: Query; body?: unknown; accept?: number[] } = {},
    ) {
      const json =
        body === undefined
          ? undefined
          : { type: "application/json", bytes: Buffer.from(JSON.stringify(body)) };
      const { status, bytes } = await send(method, path, query, json);
      if ((status < 200 || status >= 300) && !accept.includes(status)) {
        throw failure(method, path, status, bytes);
      }
      const text = bytes.toString("utf8");
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { status, body: parsed as T };
    },
    async putArchive(containerId, path, tar) {
      const url = `/containers/${containerId}/archive`;
      const body = { type: "application/x-tar", bytes: tar };
      const query = { path, noOverwriteDirNonDir: true };
      const { status, bytes } = await send("PUT", url, query, body);
      if (status < 200 || status >= 300) throw failure("PUT", url, status, bytes);
    },
    async raw(path, query) {
      const { status, bytes } = await send("GET", path, query, undefined);
      if (status < 200 || status >= 300) throw failure("GET", path, status, bytes);
      return bytes;
    },
    events(query, onEvent) {
      let req: ClientRequest | undefined;
      let closed = false;
      let markOpen: () => void = () => {};
      let markEnded: () => void = () => {};
      const opened = new Promise<void>((resolve, reject) => {
        markOpen = resolve;
        req = httpRequest({ socketPath, path: pathWith(apiVersion, "/events", query) }, (res) => {
          if (res.statusCode !== 200) {
            readBody(res).then(
              (bytes) => reject(failure("GET", "/events", res.statusCode ?? 0, bytes)),
              reject,
            );
            return;
          }
          // Once open, the stream must never be what keeps the process alive.
          res.socket.unref();
          resolve();
          let rest = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            const lines = (rest + chunk).split("\n");
            rest = lines.pop() ?? "";
            for (const line of lines) {
              if (!line.trim()) continue;
              try {
                onEvent(JSON.parse(line));
              } catch {
                // a line that is not an event: skip it
              }
            }
          });
          res.on("end", markEnded);
          res.on("error", markEnded);
          res.on("close", markEnded);
        });
        req.on("error", (err) => {
          markEnded();
          if (!closed) reject(unreachable(socketPath, "GET /events", err));
        });
        req.end();
      });
      const ended = new Promise<void>((resolve) => {
        markEnded = resolve;
      });
      opened.catch(() => markEnded());
      return {
        opened,
        ended,
        close() {
          closed = true;
          markOpen();
          req?.destroy();
          markEnded();
        },
      };
    },
  };
}

/** The text of a non-TTY container's log stream: 8-byte frame headers (stream, size) removed. */
export function demuxLogs(bytes: Buffer): string {
  let out = "";
  let at = 0;
  while (at + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(at + 4);
    out += bytes.subarray(at + 8, at + 8 + size).toString("utf8");
    at += 8 + size;
  }
  return out;
}
