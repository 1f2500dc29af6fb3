/**
 * The client side over HTTP: the envelope as an ordinary fetch to a block's REST endpoint. An
 * https:// endpoint whose certificate a private CA signed is checked against that CA (`ca`, PEM):
 * on Node through `node:https` (fetch takes no CA there), on Deno through its HTTP client.
 */
import { TimeoutError, UnavailableError } from "../core/mod.ts";
import type { HeaderMap, ReplyEnvelope, RequestEnvelope } from "./envelope.ts";
import type { Transport } from "./transport.ts";

export interface HttpTransportOptions {
  /** A CA certificate (PEM) trusted for https:// besides the system's. */
  ca?: string;
}

interface Answer {
  status: number;
  headers: HeaderMap;
  body: Uint8Array;
}

interface DenoLike {
  createHttpClient(options: { caCerts: string[] }): unknown;
}

type Send = (url: string, request: RequestEnvelope, timeoutMs: number) => Promise<Answer>;

const viaFetch =
  (client?: unknown): Send =>
  async (url, request, timeoutMs) => {
    const res = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body as BodyInit | undefined,
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
      ...(client ? { client } : {}),
    } as RequestInit);
    const headers: HeaderMap = {};
    res.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
  };

const viaNodeHttps =
  (ca: string): Send =>
  async (url, request, timeoutMs) => {
    const { request: httpsRequest } = await import("node:https");
    return await new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: request.method, headers: request.headers, ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const headers: HeaderMap = {};
            for (const [name, value] of Object.entries(res.headers))
              if (value !== undefined)
                headers[name] = Array.isArray(value) ? value.join(", ") : value;
            resolve({
              status: res.statusCode ?? 0,
              headers,
              body: new Uint8Array(Buffer.concat(chunks)),
            });
          });
        },
      );
      req.setTimeout(Math.max(1, timeoutMs), () =>
        req.destroy(Object.assign(new Error("timed out"), { name: "TimeoutError" })),
      );
      req.on("error", reject);
      req.end(request.body);
    });
  };

export function httpTransport(baseUrl: string, { ca }: HttpTransportOptions = {}): Transport {
  const base = baseUrl.replace(/\/+$/, "");
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  const send: Send =
    ca && base.startsWith("https:")
      ? deno
        ? viaFetch(deno.createHttpClient({ caCerts: [ca] }))
        : viaNodeHttps(ca)
      : viaFetch();
  return {
    target: base,
    async send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
      const url = base + request.path;
      let answer: Answer;
      try {
        answer = await send(url, request, timeoutMs);
      } catch (err) {
        const name = (err as Error).name;
        if (name === "TimeoutError" || name === "AbortError") {
          throw new TimeoutError(`no reply from ${url} within ${timeoutMs} ms`, { cause: err });
        }
        const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        throw new UnavailableError(`cannot reach ${url}: ${cause}`, { cause: err });
      }
      const { status, headers, body } = answer;
      return { status, headers, body: body.byteLength ? body : undefined };
    },
  };
}
