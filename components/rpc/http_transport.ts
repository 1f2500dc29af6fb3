/** The client side over HTTP: the envelope as an ordinary fetch to a block's REST endpoint. */
import { TimeoutError, UnavailableError } from "../core/mod.ts";
import type { HeaderMap, ReplyEnvelope, RequestEnvelope } from "./envelope.ts";
import type { Transport } from "./transport.ts";

export function httpTransport(baseUrl: string): Transport {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    target: base,
    async send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
      const url = base + request.path;
      let res: Response;
      try {
        res = await fetch(url, {
          method: request.method,
          headers: request.headers,
          body: request.body as BodyInit | undefined,
          signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
        });
      } catch (err) {
        const name = (err as Error).name;
        if (name === "TimeoutError" || name === "AbortError") {
          throw new TimeoutError(`no reply from ${url} within ${timeoutMs} ms`, { cause: err });
        }
        const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        throw new UnavailableError(`cannot reach ${url}: ${cause}`, { cause: err });
      }
      const headers: HeaderMap = {};
      res.headers.forEach((value, name) => {
        headers[name] = value;
      });
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, headers, body: body.byteLength ? body : undefined };
    },
  };
}
