/**
 * One typed client for every transport. Its shape and types are Hono's `hc<typeof app>` (so a
 * route change is a compile error at every caller), but it builds the envelope directly: bodies
 * in CBOR, no URL or Request objects, a deadline on every call, and retries only where safe.
 */
import type { Hono } from "hono";
import type { ClientResponse, hc } from "hono/client";
import type { ResponseFormat } from "hono/types";
import type { SuccessStatusCode } from "hono/utils/http-status";
import {
  type Codec,
  cbor,
  codecFor,
  ErrorCode,
  FlotillaError,
  fromWire,
  TimeoutError,
  toFlotillaError,
} from "../core/mod.ts";
import {
  DEADLINE_HEADER,
  type HeaderMap,
  type ReplyEnvelope,
  type RequestEnvelope,
} from "./envelope.ts";
import { NoRespondersError } from "./nats_transport.ts";
import type { Transport } from "./transport.ts";

/** The app every client proxy serves: the proxy reads routes off the call, whatever `App` says. */
type AnyApp = Hono;

/**
 * Any block's Hono app, as a type parameter bound. The one `any` of the client: Hono's app type is
 * invariant in its env and route schema, so no other bound admits every app (hono's own `hc`
 * constrains its parameter the same way).
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono<E, S, B> is invariant in E and S; see above.
export type HonoApp = Hono<any, any, any>;

export type RpcClient<App extends HonoApp> = ReturnType<typeof hc<App, string>>;

export interface ClientOptions {
  /** Deadline of each call, retries included, in ms. @default 5000 (config `rpc.timeout`) */
  timeoutMs?: number;
  /** Deadline of one attempt of an idempotent call. @default 1000 (`rpc.attempt-timeout`) */
  attemptTimeoutMs?: number;
  /** Headers sent with every call (e.g. a fencing token). */
  headers?: HeaderMap;
  /** Request body codec. @default CBOR */
  codec?: Codec;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const EMPTY = new Uint8Array(0);

/** What a call resolves to: the reply, read like a fetch Response. */
export class RpcResponse {
  readonly status: number;
  readonly envelope: ReplyEnvelope;
  #headers: Headers | undefined;

  constructor(envelope: ReplyEnvelope) {
    this.envelope = envelope;
    this.status = envelope.status;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get headers(): Headers {
    this.#headers ??= new Headers(this.envelope.headers);
    return this.#headers;
  }

  get bytes(): Uint8Array {
    return this.envelope.body ?? EMPTY;
  }

  /** The decoded body (CBOR or JSON by Content-Type); undefined when there is none. */
  json(): Promise<unknown> {
    const body = this.envelope.body;
    if (!body || body.byteLength === 0) return Promise.resolve(undefined);
    const codec = codecFor(this.envelope.headers["content-type"]);
    if (!codec) return this.text().then((t) => JSON.parse(t));
    try {
      return Promise.resolve(codec.decode(body));
    } catch (err) {
      return Promise.reject(
        new FlotillaError(
          ErrorCode.INTERNAL,
          `undecodable ${codec.contentType} reply: ${(err as Error).message}`,
        ),
      );
    }
  }

  text(): Promise<string> {
    return Promise.resolve(new TextDecoder().decode(this.bytes));
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.bytes;
    return Promise.resolve(
      b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    );
  }
}

interface CallArgs {
  param?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | (string | number | boolean)[] | undefined>;
  json?: unknown;
  header?: Record<string, string>;
}

function paramName(part: string): string {
  return part
    .slice(1)
    .replace(/\{.*\}$/, "")
    .replace(/\?$/, "");
}

function buildPath(parts: string[], args: CallArgs | undefined): string {
  const segments = parts.at(-1) === "index" ? parts.slice(0, -1) : parts;
  let path = "";
  for (const part of segments) {
    if (part.startsWith(":")) {
      const name = paramName(part);
      const value = args?.param?.[name];
      if (value === undefined) {
        if (part.endsWith("?")) continue;
        throw new FlotillaError(ErrorCode.INVALID_ARGUMENT, `missing path parameter '${name}'`);
      }
      path += `/${encodeURIComponent(String(value))}`;
    } else {
      path += `/${part}`;
    }
  }
  path ||= "/";
  if (args?.query) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(args.query)) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
    }
    const qs = search.toString();
    if (qs) path += `?${qs}`;
  }
  return path;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends one call within its deadline, retrying what is safe to retry. */
export async function send(
  transport: Transport,
  request: RequestEnvelope,
  {
    timeoutMs = 5000,
    attemptTimeoutMs = 1000,
  }: Pick<ClientOptions, "timeoutMs" | "attemptTimeoutMs"> = {},
): Promise<ReplyEnvelope> {
  const deadline = Date.now() + timeoutMs;
  request.headers[DEADLINE_HEADER] = String(deadline);
  const idempotent = IDEMPOTENT.has(request.method) || "idempotency-key" in request.headers;
  let backoff = 20;
  let last: FlotillaError | undefined;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw (
        last ??
        new TimeoutError(`call to ${transport.target} ran out of its ${timeoutMs} ms deadline`)
      );
    }
    try {
      return await transport.send(
        request,
        idempotent ? Math.min(remaining, attemptTimeoutMs) : remaining,
      );
    } catch (thrown) {
      const error = toFlotillaError(thrown);
      const transient =
        error instanceof NoRespondersError ? transport.settling?.() === true : error.retryable;
      if (!idempotent || !transient) throw error;
      last = error;
      await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 500);
    }
  }
}

/** What a call takes besides its arguments (hc's `ClientRequestOptions`, the parts honoured). */
interface CallOptions {
  headers?: HeaderMap;
  /** Only `body` as a Uint8Array: sent as it is, for routes that take raw bytes. */
  init?: { body?: unknown };
}

/** A typed client for `App` over any transport: `client.jobs[":id"].$get({ param: { id } })`. */
export function createClient<App extends HonoApp>(
  transport: Transport,
  options: ClientOptions = {},
): RpcClient<App> {
  const { codec = cbor, headers: baseHeaders = {} } = options;

  async function call(
    parts: string[],
    method: string,
    args: CallArgs | undefined,
    opt?: CallOptions,
  ) {
    const headers: HeaderMap = {
      accept: cbor.contentType,
      ...baseHeaders,
      ...args?.header,
      ...opt?.headers,
    };
    let body: Uint8Array | undefined;
    if (args?.json !== undefined) {
      body = codec.encode(args.json);
      headers["content-type"] = codec.contentType;
    } else if (opt?.init?.body instanceof Uint8Array) {
      // Raw bytes, as hc sends `init.body` (an artifact upload).
      body = opt.init.body;
      headers["content-type"] ??= "application/octet-stream";
    }
    const request = { method, path: buildPath(parts, args), headers, body };
    return new RpcResponse(await send(transport, request, options));
  }

  function node(parts: string[]): unknown {
    const children = new Map<string, unknown>();
    return new Proxy(() => {}, {
      get(_target, key) {
        if (typeof key !== "string" || key === "then") return undefined;
        let child = children.get(key);
        if (!child) {
          child = key.startsWith("$")
            ? (args?: CallArgs, opt?: CallOptions) =>
                call(parts, key.slice(1).toUpperCase(), args, opt)
            : node([...parts, key]);
          children.set(key, child);
        }
        return child;
      },
    });
  }
  return node([]) as RpcClient<App>;
}

type SuccessBody<R> =
  R extends ClientResponse<infer T, infer S, ResponseFormat>
    ? S extends SuccessStatusCode
      ? T
      : never
    : never;

/** Awaits a call and returns its typed success body, or throws the typed error it carried. */
export async function unwrap<R extends ClientResponse<unknown, number, ResponseFormat>>(
  pending: Promise<R> | R,
): Promise<SuccessBody<R>> {
  const res = (await pending) as unknown as RpcResponse;
  if (res.ok) return (await res.json()) as SuccessBody<R>;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = await res.text();
  }
  throw fromWire(res.status, body);
}

/** One answer of a fan-out call: the typed success body, or the typed error it carried. */
export type Answered<R> = { ok: true; body: SuccessBody<R> } | { ok: false; error: FlotillaError };

/**
 * The envelope a typed call builds, taken from a client whose transport records it instead of
 * sending it; the deadline header says `waitMs` from now.
 */
async function envelopeOf<C>(
  call: (client: C) => Promise<unknown>,
  waitMs: number,
  options: Pick<ClientOptions, "headers" | "codec">,
): Promise<RequestEnvelope> {
  let captured: RequestEnvelope | undefined;
  const recorder: Transport = {
    target: "the envelope recorder",
    send(request) {
      captured = request;
      return Promise.resolve({ status: 204, headers: {} });
    },
  };
  const client = createClient<AnyApp>(recorder, {
    ...options,
    timeoutMs: waitMs,
    attemptTimeoutMs: waitMs,
  });
  await call(client as unknown as C);
  if (!captured)
    throw new FlotillaError(ErrorCode.INTERNAL, "callAll: the call given made no request");
  return captured;
}

async function answerOf<R>(envelope: ReplyEnvelope): Promise<Answered<R>> {
  try {
    const body = await unwrap(new RpcResponse(envelope) as unknown as ClientResponse<unknown>);
    return { ok: true, body: body as SuccessBody<R> };
  } catch (err) {
    return { ok: false, error: toFlotillaError(err) };
  }
}

/**
 * A typed call to every block answering on the transport's subject within `waitMs` (over NATS,
 * every subscriber: `Transport.sendAll`), for a caller that must not act on one answer when
 * several processes may serve the subject. Type the client by annotating the parameter:
 * `callAll(transport, (jm: RpcClient<JobManagerTaskApp>) => jm.slots.offer.$post({ json }), 500)`.
 * On a transport that reaches one block only, that block's answer. Each answer is the typed
 * success body or the typed error; rejects (UNAVAILABLE or TIMEOUT) when nobody answered.
 */
export async function callAll<C, R extends ClientResponse<unknown>>(
  transport: Transport,
  call: (client: C) => Promise<R>,
  waitMs: number,
  options: Pick<ClientOptions, "headers" | "codec"> = {},
): Promise<Answered<R>[]> {
  const request = await envelopeOf(call, waitMs, options);
  const replies = transport.sendAll
    ? await transport.sendAll(request, waitMs)
    : [await send(transport, request, { timeoutMs: waitMs, attemptTimeoutMs: waitMs })];
  return await Promise.all(replies.map((reply) => answerOf<R>(reply)));
}
